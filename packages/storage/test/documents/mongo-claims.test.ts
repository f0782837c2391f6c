/**
 * Version claims of the MongoDB adapter when a writer is cut (its signal aborted) mid-write, on a
 * real MongoDB-wire server (FerretDB, or the server MONGODB_URI names): the cut lands the moment a
 * chosen command goes on the wire, and the next writer must not find the record claimed.
 */
import { randomUUID } from "node:crypto";
import { MissingToolError, type RealServer, startMongoWire } from "@lucid-rdp/testing";
import { MongoClient } from "mongodb";
import { afterAll, describe, expect, it } from "vitest";
import { createMongoStores } from "../../src/index.js";
import { type TestNode, testSpecs } from "./test-collections.js";

let server: RealServer | undefined;
try {
  server = await startMongoWire();
} catch (e) {
  if (!(e instanceof MissingToolError)) throw e;
  e.report("mongo version claims of a cut writer");
}

if (server === undefined) {
  it("mongo version claims of a cut writer (skipped: no MongoDB-wire server, see above)", (ctx) =>
    ctx.skip());
} else {
  const client = new MongoClient(server.url, {
    ignoreUndefined: true,
    serverSelectionTimeoutMS: 5000,
    monitorCommands: true,
  });
  const db = client.db(`claims_${randomUUID().slice(0, 8)}`);
  const stores = createMongoStores(db, testSpecs, { writeConcern: { w: "majority" } });
  const ready = stores.ensureIndexes();
  /** Aborts `c` when the next `command` on `collection` goes on the wire. */
  const cutOn = (command: string, collection: string, c: AbortController) => {
    const listener = (ev: { commandName: string; command: Record<string, unknown> }) => {
      if (ev.commandName === command && ev.command[command] === collection) {
        client.off("commandStarted", listener);
        c.abort(new Error("deadline"));
      }
    };
    client.on("commandStarted", listener);
  };
  const node = async () => {
    await ready;
    return stores.nodes.insert({
      id: `node-${randomUUID().slice(0, 8)}`,
      address: `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}:${randomUUID().slice(0, 4)}`,
      maxServers: 4,
      draining: false,
      source: "registered",
      heartbeatTtlMs: 15_000,
      portRangeStart: 3390,
      portRangeEnd: 3489,
      labels: {},
    });
  };
  /** The claims left on record `id`: at most the one of its current version. */
  const claimsOf = async (id: string) =>
    (await db.collection<{ _id: string }>("nodes_claims").find({ rid: id }).toArray()).map(
      (c) => c._id,
    );

  describe("MongoCollection version claims", () => {
    it("update() cut while its claim's insert is on the wire gives the claim back", async () => {
      const n = await node();
      const c = new AbortController();
      cutOn("insert", "nodes_claims", c);
      await expect(
        stores.nodes.update(n.id, n.version, { draining: true }, { signal: c.signal }),
      ).rejects.toThrow("deadline");
      expect(await claimsOf(n.id)).toEqual([]);
      const after: TestNode = await stores.nodes.get(n.id);
      expect(after.version).toBe(n.version);
      // The next writer of the same version is not refused.
      const next = await stores.nodes.update(n.id, n.version, { serving: true });
      expect(next.version).toBe(n.version + 1);
    });

    it("update() cut while its write is on the wire leaves the record writable", async () => {
      const n = await node();
      const c = new AbortController();
      cutOn("update", "nodes", c);
      await expect(
        stores.nodes.update(n.id, n.version, { draining: true }, { signal: c.signal }),
      ).rejects.toThrow("deadline");
      // The write may have landed after the cut: either way, the current version is writable.
      const current = await stores.nodes.get(n.id);
      expect(
        (await claimsOf(current.id)).filter((id) => id !== `${n.id}:${current.version}`),
      ).toEqual([]);
      const next = await stores.nodes.update(n.id, current.version, { serving: true });
      expect(next.version).toBe(current.version + 1);
    });

    it("delete() cut while its claim's insert is on the wire gives the claim back", async () => {
      const n = await node();
      const c = new AbortController();
      cutOn("insert", "nodes_claims", c);
      await expect(stores.nodes.delete(n.id, n.version, { signal: c.signal })).rejects.toThrow(
        "deadline",
      );
      expect(await claimsOf(n.id)).toEqual([]);
      const next = await stores.nodes.update(n.id, n.version, { serving: true });
      expect(next.version).toBe(n.version + 1);
    });
  });

  afterAll(async () => {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
    await server?.close();
  });
}
