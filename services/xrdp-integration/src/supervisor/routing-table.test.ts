import { randomBytes } from "node:crypto";
import { createLogger } from "@lucid-rdp/runtime";
import { describe, expect, it } from "vitest";
import type { InstanceRecord } from "../store/records.js";
import { RoutingTable } from "./routing-table.js";

const record = (id: string, changes: Partial<InstanceRecord> = {}): InstanceRecord =>
  ({
    id,
    version: 1,
    createTime: new Date(),
    updateTime: new Date(),
    serverId: `s-${id}`,
    port: 3400,
    state: "READY",
    restartCount: 0,
    settings: {},
    owner: "alice",
    ...changes,
  }) as InstanceRecord;

describe("RoutingTable", () => {
  const logger = createLogger({ service: "test", level: "silent" });

  it("routes the tokens of live, assigned instances only, and says which ended", async () => {
    let live: InstanceRecord[] = [
      record("a", { port: 3401 }),
      record("b", { port: 3402 }),
      record("warm", { warm: true, owner: undefined, serverId: "" }),
    ];
    const table = new RoutingTable({ key: randomBytes(32), listLive: async () => live, logger });
    await table.refresh();
    expect(table.lookup(table.tokenOf("a"))).toEqual({
      kind: "route",
      instanceId: "a",
      serverId: "s-a",
      port: 3401,
    });
    expect(table.lookup(table.tokenOf("b"))).toMatchObject({ instanceId: "b", port: 3402 });
    expect(table.lookup(table.tokenOf("warm"))).toBeUndefined();
    expect(table.lookup("lr1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).toBeUndefined();
    expect(table.size()).toBe(2);

    live = [record("b", { port: 3402 })];
    await table.refresh();
    expect(table.lookup(table.tokenOf("a"))).toEqual({ kind: "ended", instanceId: "a" });
    table.note(record("b", { state: "STOPPED" }));
    expect(table.lookup(table.tokenOf("b"))).toEqual({ kind: "ended", instanceId: "b" });
  });

  it("routes a handed-out instance as soon as it is noted, and forgets old ended tokens", () => {
    const table = new RoutingTable({
      key: randomBytes(32),
      listLive: async () => [],
      logger,
      endedCapacity: 2,
    });
    table.note(record("w", { warm: true, owner: undefined }));
    expect(table.lookup(table.tokenOf("w"))).toBeUndefined();
    table.note(record("w"));
    expect(table.lookup(table.tokenOf("w"))?.kind).toBe("route");
    for (const id of ["x", "y", "z"]) table.note(record(id, { state: "FAILED" }));
    expect(table.lookup(table.tokenOf("x"))).toBeUndefined();
    expect(table.lookup(table.tokenOf("z"))?.kind).toBe("ended");
  });
});
