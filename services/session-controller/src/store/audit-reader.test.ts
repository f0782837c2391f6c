import { createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { AuditReader } from "./audit-reader.js";
import { sessionControllerSpecs } from "./specs.js";

async function seeded() {
  const { auditEvents } = createMemoryStores(sessionControllerSpecs);
  const add = (id: string, minute: number, action: string, subject: string) =>
    auditEvents.insert({
      id,
      time: new Date(Date.UTC(2026, 11, 1, 12, minute)),
      actorSubject: subject,
      actorRoles: [],
      action,
      resourceType: "session",
      resourceId: `s-${id}`,
      details: {},
    });
  await add("1", 0, "session.create", "alice");
  await add("2", 10, "session.ready", "session-controller");
  await add("3", 20, "session.terminated", "alice");
  return new AuditReader(auditEvents);
}

const ids = (p: { items: { id: string }[] }) => p.items.map((e) => e.id).sort();

describe("AuditReader", () => {
  describe("list()", () => {
    it("filters by resource, subject and action, and the page read by [start, end)", async () => {
      const r = await seeded();
      expect(ids(await r.list({}))).toEqual(["1", "2", "3"]);
      expect(ids(await r.list({ subject: "alice" }))).toEqual(["1", "3"]);
      expect(ids(await r.list({ action: "session.ready" }))).toEqual(["2"]);
      expect(ids(await r.list({ resourceType: "session", resourceId: "s-3" }))).toEqual(["3"]);
      expect(ids(await r.list({ resourceType: "server" }))).toEqual([]);
      const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 12, minute));
      expect(ids(await r.list({ startTime: at(10) }))).toEqual(["2", "3"]);
      expect(ids(await r.list({ endTime: at(10) }))).toEqual(["1"]);
      expect(ids(await r.list({ startTime: at(5), endTime: at(20) }))).toEqual(["2"]);
    });

    it("keeps the page token of the page read when the time range drops events from it", async () => {
      const r = await seeded();
      const page = await r.list({ startTime: new Date(0), endTime: new Date(1) }, { pageSize: 2 });
      expect(page.items).toEqual([]);
      expect(page.nextPageToken).not.toBe("");
    });
  });
});
