/**
 * Repository: modify's retry loop and the outbox, on the memory collections and on FerretDB. A
 * writer that "dies" after its write is a repository whose bus refuses every publish: its events
 * stay in the record until another process's relay delivers them, once.
 */
import { randomUUID } from "node:crypto";
import {
  countingCalls,
  MissingToolError,
  type RealServer,
  startMongoWire,
} from "@lucid-rdp/testing";
import { MongoClient } from "mongodb";
import { afterAll, describe, expect, it } from "vitest";
import {
  type BusEvent,
  createMemoryStores,
  createMongoStores,
  createSqliteStores,
  type EventBus,
  MemoryEventBus,
  openSqliteDatabase,
  Repository,
  type StoresOf,
} from "../../src/index.js";
import { type TestServer, testSpecs } from "./test-collections.js";

const quiet = { warn: () => undefined };

/** A bus whose publishes fail, as a process that died right after its write. */
function deadBus(bus: EventBus): EventBus {
  return new Proxy(bus, {
    get(target, p, r) {
      if (p === "publish") return async () => Promise.reject(new Error("process died"));
      return Reflect.get(target, p, r);
    },
  });
}

/** A repository over the test's servers whose writer dies right after each write. */
function dyingRepository(s: StoresOf<typeof testSpecs>, bus: EventBus) {
  return new Repository({
    collection: s.servers,
    bus: deadBus(bus),
    audit: s.auditEvents,
    logger: quiet,
  });
}

function server(): Omit<TestServer, "version" | "createTime" | "updateTime"> {
  return {
    id: randomUUID(),
    owner: "alice",
    nodeId: "node-1",
    host: "10.0.0.5",
    port: 3390 + Math.floor(Math.random() * 20_000),
    state: "PROVISIONING",
    labels: {},
  };
}

const ready = {
  type: "server.state_changed",
  data: (s: { state: string; version: number }) => ({ state: s.state, version: s.version }),
  audit: (s: { id: string; state: string }) => ({
    actorSubject: "test",
    actorRoles: ["service"],
    action: "server.ready",
    resourceType: "server" as const,
    resourceId: s.id,
    details: { state: s.state },
  }),
};

function suite(name: string, stores: () => Promise<StoresOf<typeof testSpecs>>) {
  describe(`Repository (${name})`, () => {
    async function setup() {
      const s = await stores();
      const bus = new MemoryEventBus();
      const repo = new Repository({
        collection: s.servers,
        bus,
        audit: s.auditEvents,
        logger: quiet,
      });
      return { s, bus, repo };
    }

    it("stores a change with its event, publishes it with its id as key and audits it once", async () => {
      const { s, bus, repo } = await setup();
      const created = await repo.insert(server(), [{ type: "server.created", data: (r) => r }]);
      const { record, changed } = await repo.modify(created.id, () => ({
        changes: { state: "READY" },
        events: [ready],
      }));
      expect(changed).toBe(true);
      const events = (await bus.read("server")) as BusEvent<{ state?: string; version?: number }>[];
      expect(events.map((e) => e.type)).toEqual(["server.created", "server.state_changed"]);
      // The event carries the record as stored.
      expect(events[1]?.data).toEqual({ state: "READY", version: record.version });
      const entry = record.outbox?.at(-1);
      expect(entry?.type).toBe("server.state_changed");
      const audited = await s.auditEvents.get(entry?.id ?? "");
      expect(audited.action).toBe("server.ready");
      expect(audited.resourceId).toBe(created.id);
      expect(audited.details).toEqual({ state: "READY" });
      // The next write drops what was delivered; a change to nothing writes nothing.
      const next = await repo.modify(created.id, () => ({ changes: { stateMessage: "m" } }));
      expect(next.record.outbox).toBeUndefined();
      expect(next.record.outboxSince).toBeUndefined();
      const same = await repo.modify(created.id, () => undefined);
      expect(same).toEqual({ record: next.record, changed: false });
    });

    it("writes on the caller's copy without reading it; a stale or unchanged copy is read again", async () => {
      const { s, bus } = await setup();
      const { store, calls: reads } = countingCalls(s.servers, "get");
      const repo = new Repository({ collection: store, bus, audit: s.auditEvents, logger: quiet });
      const created = await repo.insert(server(), []);
      const toReady = (cur: TestServer) =>
        cur.state === "PROVISIONING" ? { changes: { state: "READY" as const } } : undefined;
      // A fresh copy: one write, no read.
      const first = await repo.modify(created.id, toReady, { current: created });
      expect(first.changed).toBe(true);
      expect(reads.n).toBe(0);
      // A stale copy: its write loses, the record is read and the change decided on it.
      const label = (cur: TestServer) => ({ changes: { labels: { ...cur.labels, n: "1" } } });
      const second = await repo.modify(created.id, label, { current: created });
      expect(second.record).toMatchObject({ state: "READY", labels: { n: "1" } });
      expect(second.record.version).toBe(first.record.version + 1);
      expect(reads.n).toBe(1);
      // Nothing to change on the copy (already READY there): decided again on a read.
      await s.servers.update(created.id, second.record.version, { state: "PROVISIONING" });
      const third = await repo.modify(created.id, toReady, { current: second.record });
      expect(third.changed).toBe(true);
      expect(third.record.state).toBe("READY");
    });

    it("applies concurrent modifies one after another, each event once", async () => {
      const { bus, repo } = await setup();
      const created = await repo.insert(server(), []);
      await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          repo.modify(created.id, (cur) => ({
            changes: { labels: { ...cur.labels, [`k${i}`]: "v" } },
            events: [{ type: "server.updated", data: (r) => Object.keys(r.labels).length }],
          })),
        ),
      );
      const final = await repo.get(created.id);
      expect(Object.keys(final.labels)).toHaveLength(6);
      const counts = (await bus.read("server")).map((e) => e.data);
      expect([...counts].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it("a writer that died after its write leaves the events in the record; a relay delivers them once", async () => {
      const { s, bus, repo } = await setup();
      const dying = dyingRepository(s, bus);
      const created = await dying.insert(server(), [{ type: "server.created", data: () => 1 }]);
      await dying.modify(created.id, () => ({ changes: { state: "READY" }, events: [ready] }));
      const stranded = await repo.get(created.id);
      expect(stranded.outbox?.map((e) => e.type)).toEqual([
        "server.created",
        "server.state_changed",
      ]);
      expect(stranded.outboxSince?.toISOString()).toBe(stranded.outbox?.[0]?.time);
      expect(await bus.read("server")).toEqual([]);

      // Two relays at once (two leaders for a moment), then another round: each event once. The
      // relay's clock is a second ahead: in the writer's own millisecond nothing is older than 0 ms.
      const relay = new Repository({
        collection: s.servers,
        bus,
        audit: s.auditEvents,
        logger: quiet,
        now: () => new Date(Date.now() + 1_000),
      });
      const [a, b] = await Promise.all([relay.relayOnce(0), relay.relayOnce(0)]);
      expect(a + b).toBeGreaterThanOrEqual(2);
      await relay.relayOnce(0);
      // (On FerretDB the collection holds the other tests' records too: their outboxes go out as well.)
      const mine = (await bus.read("server")).filter((e) => e.subject === created.id);
      expect(mine.map((e) => e.type)).toEqual(["server.created", "server.state_changed"]);
      const relayed = await repo.get(created.id);
      expect(relayed.outbox).toBeUndefined();
      expect(relayed.state).toBe("READY");
      const audit = await s.auditEvents.get(stranded.outbox?.[1]?.id ?? "");
      expect(audit.time.toISOString()).toBe(stranded.outbox?.[1]?.time);
    });

    it("the relay leaves entries younger than its cutoff to their writer", async () => {
      const { s, bus, repo } = await setup();
      const dying = dyingRepository(s, bus);
      await dying.insert(server(), [{ type: "server.created", data: () => 1 }]);
      await repo.relayOnce(60_000);
      expect(await bus.read("server")).toEqual([]);
    });
  });
}

suite("memory", async () => createMemoryStores(testSpecs));
const sqlite = createSqliteStores(openSqliteDatabase(":memory:"), testSpecs);
suite("sqlite", async () => sqlite);

let mongo: RealServer | undefined;
try {
  mongo = await startMongoWire();
} catch (e) {
  if (!(e instanceof MissingToolError)) throw e;
  e.report("repository on FerretDB");
}
if (mongo === undefined) {
  it("repository on FerretDB (skipped: no MongoDB-wire server, see above)", (ctx) => ctx.skip());
} else {
  const client = new MongoClient(mongo.url, { ignoreUndefined: true });
  const db = client.db(`repo_${randomUUID().slice(0, 8)}`);
  const stores = createMongoStores(db, testSpecs);
  let indexed: Promise<void> | undefined;
  suite("FerretDB", async () => {
    indexed ??= stores.ensureIndexes();
    await indexed;
    return stores;
  });
  afterAll(async () => {
    await client.close();
    await mongo?.stop();
  });
}
