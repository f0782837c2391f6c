import { describe, expect, it } from "vitest";
import { openSqliteDatabase } from "../documents/sqlite-database.js";
import {
  paramsHash,
  RequestIdReusedError,
  RequestInProgressError,
  runIdempotent,
} from "./idempotency.js";
import { createMemoryStores, createSqliteStores, sharedSpecs, sweepExpired } from "./stores.js";

/** The adapters these tests run on: memory, and SQLite (an in-memory database). */
const adapters = {
  memory: (o: { now?: () => Date } = {}) => createMemoryStores(sharedSpecs, o),
  sqlite: (o: { now?: () => Date } = {}) =>
    createSqliteStores(openSqliteDatabase(":memory:"), sharedSpecs, o),
};

function clock(start = Date.parse("2026-11-21T12:00:00Z")) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

for (const [adapter, open] of Object.entries(adapters)) {
  describe(`runIdempotent() (${adapter})`, () => {
    const base = { scope: "CreateSession", ttlMs: 86_400_000 };

    it("creates once, and answers a retry with the same result without creating again", async () => {
      const { idempotency } = open();
      let creates = 0;
      const create = async () => `session-${++creates}`;
      const opts = { ...base, requestId: "r1", params: { user: "alice", display: { w: 1920 } } };
      expect(await runIdempotent(idempotency, opts, create)).toEqual({
        resultId: "session-1",
        created: true,
      });
      expect(await runIdempotent(idempotency, opts, create)).toEqual({
        resultId: "session-1",
        created: false,
      });
      expect(creates).toBe(1);
    });

    it("refuses the same request id with other parameters", async () => {
      const { idempotency } = open();
      await runIdempotent(
        idempotency,
        { ...base, requestId: "r2", params: { user: "a" } },
        async () => "x",
      );
      await expect(
        runIdempotent(
          idempotency,
          { ...base, requestId: "r2", params: { user: "b" } },
          async () => "y",
        ),
      ).rejects.toBeInstanceOf(RequestIdReusedError);
    });

    it("gives a concurrent duplicate the first call's result once it finishes", async () => {
      const { idempotency } = open();
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const opts = { ...base, requestId: "r6", params: {} };
      let creates = 0;
      const first = runIdempotent(idempotency, opts, async () => {
        creates++;
        await gate;
        return "made";
      });
      const duplicate = runIdempotent(idempotency, opts, async () => {
        creates++;
        return "dup";
      });
      setTimeout(release, 150);
      expect(await first).toEqual({ resultId: "made", created: true });
      expect(await duplicate).toEqual({ resultId: "made", created: false });
      expect(creates).toBe(1);
    });

    it("tells a concurrent duplicate that the first call is still running once it gave up waiting", async () => {
      const { idempotency } = open();
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const opts = { ...base, requestId: "r3", params: {} };
      const first = runIdempotent(idempotency, opts, async () => {
        await gate;
        return "made";
      });
      await expect(
        runIdempotent(idempotency, { ...opts, waitForFirstMs: 0 }, async () => "dup"),
      ).rejects.toBeInstanceOf(RequestInProgressError);
      release();
      expect((await first).resultId).toBe("made");
    });

    it("forgets a request id whose create failed, so that a retry runs it again", async () => {
      const { idempotency } = open();
      const opts = { ...base, requestId: "r5", params: {} };
      await expect(
        runIdempotent(idempotency, opts, async () => {
          throw new Error("port in use");
        }),
      ).rejects.toThrow("port in use");
      expect(await runIdempotent(idempotency, opts, async () => "retried")).toEqual({
        resultId: "retried",
        created: true,
      });
    });

    it("takes over a request whose first caller died before finishing", async () => {
      const c = clock();
      const { idempotency } = open({ now: c.now });
      const opts = { ...base, requestId: "r4", params: {}, now: c.now, staleAfterMs: 60_000 };
      // What a caller that crashed mid-create leaves behind.
      await idempotency.insert({
        id: "CreateSession:r4",
        scope: "CreateSession",
        requestId: "r4",
        paramsHash: paramsHash({}),
        state: "PENDING",
        expireTime: new Date(c.now().getTime() + 86_400_000),
      });
      await expect(
        runIdempotent(idempotency, { ...opts, waitForFirstMs: 0 }, async () => "too early"),
      ).rejects.toBeInstanceOf(RequestInProgressError);
      c.advance(61_000);
      expect(await runIdempotent(idempotency, opts, async () => "second try")).toEqual({
        resultId: "second try",
        created: true,
      });
    });
  });
}

describe("paramsHash()", () => {
  it("ignores key order and tells values apart", () => {
    expect(paramsHash({ a: 1, b: { c: [1, 2] } })).toBe(paramsHash({ b: { c: [1, 2] }, a: 1 }));
    expect(paramsHash({ a: 1 })).not.toBe(paramsHash({ a: 2 }));
  });
});

for (const [adapter, open] of Object.entries(adapters)) {
  describe(`sweepExpired() (${adapter})`, () => {
    it("deletes expired request ids and audit events past retention, and nothing else", async () => {
      const c = clock();
      const stores = open({ now: c.now });
      const now = c.now();
      const rid = (id: string, expire: number) =>
        stores.idempotency.insert({
          id,
          scope: "CreateServer",
          requestId: id,
          paramsHash: "h",
          state: "DONE",
          resultId: "s",
          expireTime: new Date(now.getTime() + expire),
        });
      await rid("old", -1);
      await rid("new", 1000);
      const audit = (id: string, ageMs: number) =>
        stores.auditEvents.insert({
          id,
          time: new Date(now.getTime() - ageMs),
          actorSubject: "bob",
          actorRoles: ["operator"],
          action: "server.delete",
          resourceType: "server",
          resourceId: "s",
          details: {},
        });
      await audit("ancient", 31 * 86_400_000);
      await audit("recent", 86_400_000);
      expect(await sweepExpired(stores, now, 30 * 86_400_000)).toEqual({
        idempotency: 1,
        auditEvents: 1,
      });
      expect(await stores.idempotency.find("new")).toBeDefined();
      expect(await stores.auditEvents.find("recent")).toBeDefined();
      expect(await stores.auditEvents.find("ancient")).toBeUndefined();
    });
  });
}
