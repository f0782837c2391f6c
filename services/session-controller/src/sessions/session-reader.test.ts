import { createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import type { SessionState } from "../domain/session-values.js";
import { sessionControllerSpecs } from "../store/specs.js";
import { SessionReader } from "./session-reader.js";

async function seeded() {
  const { sessions } = createMemoryStores(sessionControllerSpecs);
  const add = (id: string, user: string, state: SessionState, serverId?: string) =>
    sessions.insert({
      id,
      requestId: `r-${id}`,
      user,
      state,
      serverId,
      display: { width: 1920, height: 1080, colorDepth: 32, monitors: 1 },
      policy: {},
      labels: {},
      deadlines: {},
      connectionCount: 0,
    });
  await add("1", "alice", "READY", "srv-1");
  await add("2", "bob", "TERMINATED", "srv-2");
  await add("3", "alice", "PENDING");
  return new SessionReader(sessions);
}

const ids = (p: { items: { id: string }[] }) => p.items.map((s) => s.id).sort();

describe("SessionReader", () => {
  describe("list()", () => {
    it("filters by states, user and server; unset or empty filters do not filter", async () => {
      const r = await seeded();
      expect(ids(await r.list({}))).toEqual(["1", "2", "3"]);
      expect(ids(await r.list({ states: [], user: "", serverId: "" }))).toEqual(["1", "2", "3"]);
      expect(ids(await r.list({ states: ["READY", "PENDING"] }))).toEqual(["1", "3"]);
      expect(ids(await r.list({ user: "alice", serverId: "srv-1" }))).toEqual(["1"]);
      const first = await r.list({}, { pageSize: 2 });
      const second = await r.list({}, { pageSize: 2, pageToken: first.nextPageToken });
      expect([...ids(first), ...ids(second)].sort()).toEqual(["1", "2", "3"]);
    });
  });

  describe("findByServer()", () => {
    it("returns the live session on the server, not an ended one", async () => {
      const r = await seeded();
      expect((await r.findByServer("srv-1"))?.id).toBe("1");
      expect(await r.findByServer("srv-2")).toBeUndefined();
      expect(await r.findByServer("srv-9")).toBeUndefined();
    });
  });
});
