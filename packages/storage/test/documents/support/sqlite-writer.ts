/**
 * A writer for the crash test (sqlite-crash.test.ts): opens the database at argv[2] and, forever,
 * inserts a server and updates the one before it (each an IMMEDIATE transaction, as the services
 * write), printing `ok <id> <version>` once each write returned. The test kills it with SIGKILL.
 */
import { randomUUID } from "node:crypto";
import { createSqliteStores, openSqliteDatabase } from "../../../src/index.js";
import { testSpecs } from "../test-collections.js";

const db = openSqliteDatabase(process.argv[2] as string);
const stores = createSqliteStores(db, testSpecs);
let previous: { id: string; version: number } | undefined;
for (let i = 0; ; i++) {
  const s = await stores.servers.insert({
    id: randomUUID(),
    owner: "crash",
    nodeId: "node-1",
    host: "127.0.0.1",
    port: i,
    state: "PROVISIONING",
    labels: { n: String(i) },
  });
  process.stdout.write(`ok ${s.id} 1\n`);
  if (previous !== undefined) {
    const u = await stores.servers.update(previous.id, previous.version, { state: "READY" });
    process.stdout.write(`ok ${u.id} ${u.version}\n`);
  }
  previous = { id: s.id, version: 1 };
}
