import { createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import type { ServerState } from "../domain/server-state.js";
import { serverManagerSpecs } from "../store/specs.js";
import { ServerReader } from "./server-reader.js";

async function seeded() {
  const { servers } = createMemoryStores(serverManagerSpecs);
  const add = (id: string, state: ServerState, nodeId: string, owner: string, labels = {}) =>
    servers.insert({ id, owner, nodeId, host: "10.0.0.5", port: 3400 + id.length, state, labels });
  await add("a", "READY", "node-1", "alice", { pool: "blue" });
  await add("bb", "FAILED", "node-1", "bob");
  await add("ccc", "PROVISIONING", "node-2", "alice", { pool: "blue", tier: "x" });
  return new ServerReader(servers);
}

const ids = (p: { items: { id: string }[] }) => p.items.map((s) => s.id).sort();

describe("ServerReader", () => {
  describe("list()", () => {
    it("filters by states, node, owner and labels; unset or empty filters do not filter", async () => {
      const r = await seeded();
      expect(ids(await r.list({}))).toEqual(["a", "bb", "ccc"]);
      expect(ids(await r.list({ states: [], owner: "", nodeId: "", labels: {} }))).toEqual([
        "a",
        "bb",
        "ccc",
      ]);
      expect(ids(await r.list({ states: ["READY", "PROVISIONING"] }))).toEqual(["a", "ccc"]);
      expect(ids(await r.list({ nodeId: "node-1" }))).toEqual(["a", "bb"]);
      expect(ids(await r.list({ owner: "alice", labels: { pool: "blue" } }))).toEqual(["a", "ccc"]);
      expect(ids(await r.list({ labels: { tier: "x" } }))).toEqual(["ccc"]);
    });

    it("pages with the collection's tokens", async () => {
      const r = await seeded();
      const first = await r.list({}, { pageSize: 2 });
      expect(first.items).toHaveLength(2);
      const second = await r.list({}, { pageSize: 2, pageToken: first.nextPageToken });
      expect([...ids(first), ...ids(second)].sort()).toEqual(["a", "bb", "ccc"]);
      expect(second.nextPageToken).toBe("");
    });
  });
});
