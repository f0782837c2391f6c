/**
 * The Collection contract on the SQLite adapter (embedded state that persists), for every
 * collection of the mesh, on a database file in a temporary directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteStores, openSqliteDatabase } from "@lucid-rdp/storage";
import { describeCollectionContract } from "@lucid-rdp/storage/contract";
import { afterAll } from "vitest";
import { fixtures, meshSpecs } from "./fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "lucid-sqlite-contract-"));
const db = openSqliteDatabase(join(dir, "contract.sqlite"));
const stores = createSqliteStores(db, meshSpecs);
for (const name of Object.keys(meshSpecs) as (keyof typeof meshSpecs)[]) {
  describeCollectionContract(`sqlite ${name}`, fixtures[name], async () => stores[name] as never);
}
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
