/**
 * The Collection contract on the MongoDB adapter, against a real MongoDB-wire server: FerretDB
 * (SQLite backend) started for this file, or the server MONGODB_URI names.
 */
import { randomUUID } from "node:crypto";
import { createMongoStores } from "@lucid-rdp/storage";
import { describeCollectionContract } from "@lucid-rdp/storage/contract";
import { MissingToolError, type RealServer, startMongoWire } from "@lucid-rdp/testing";
import { MongoClient } from "mongodb";
import { afterAll, it } from "vitest";
import { fixtures, meshSpecs } from "./fixtures.js";

let server: RealServer | undefined;
try {
  server = await startMongoWire();
} catch (e) {
  if (!(e instanceof MissingToolError)) throw e;
  e.report("mongo collection contract");
}

if (server === undefined) {
  it("mongo collection contract (skipped: no MongoDB-wire server, see above)", (ctx) => ctx.skip());
} else {
  const client = new MongoClient(server.url, {
    ignoreUndefined: true,
    serverSelectionTimeoutMS: 5000,
  });
  const db = client.db(`contract_${randomUUID().slice(0, 8)}`);
  const stores = createMongoStores(db, meshSpecs, { writeConcern: { w: "majority" } });
  let indexed: Promise<void> | undefined;
  const ready = () => {
    indexed ??= stores.ensureIndexes();
    return indexed;
  };
  for (const name of Object.keys(meshSpecs) as (keyof typeof meshSpecs)[]) {
    describeCollectionContract(`mongo ${name}`, fixtures[name], async () => {
      await ready();
      return stores[name] as never;
    });
  }
  afterAll(async () => {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
    await server?.close();
  });
}
