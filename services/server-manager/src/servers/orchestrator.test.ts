import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { NodeClients } from "../nodes/node-clients.js";
import { Orchestrator } from "./orchestrator.js";

describe("Orchestrator.nodeViews()", () => {
  it("keeps a node whose host health is fatal off placement, naming why", async () => {
    const stores = createMemoryStores();
    const coordination = createMemoryCoordination();
    const now = new Date();
    for (const [id, host] of [
      ["node-a", "10.0.0.1"],
      ["node-b", "10.0.0.2"],
    ] as const) {
      await stores.nodes.insert({
        id,
        address: `${host}:3389`,
        rdpHost: host,
        maxServers: 4,
        draining: false,
        source: "registered",
        lastHeartbeatTime: now,
        heartbeatTtlMs: 60_000,
        portRangeStart: 3390,
        portRangeEnd: 3489,
        labels: {},
        serving: true,
      });
    }
    const asked: string[] = [];
    const o = new Orchestrator({
      servers: stores.servers,
      nodes: stores.nodes,
      audit: stores.auditEvents,
      ports: coordination.ports,
      leases: coordination.leases,
      bus: coordination.bus,
      clients: new NodeClients({ deadlineMs: 1_000 }),
      logger: createLogger({ service: "test", level: "silent" }),
      hostHealth: async (host) => {
        asked.push(host);
        return host === "10.0.0.1"
          ? { fatal: true, message: "disk_space: / is 97% full" }
          : { fatal: false, message: "" };
      },
    });
    const views = await o.nodeViews();
    const a = views.find((v) => v.node.id === "node-a");
    const b = views.find((v) => v.node.id === "node-b");
    expect(a).toMatchObject({
      healthy: false,
      message: "host health is fatal: disk_space: / is 97% full",
    });
    expect(b?.healthy).toBe(true);
    expect(asked.sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });
});
