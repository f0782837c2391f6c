import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AlreadyExistsError } from "../errors.js";
import type { CollectionSpec, Versioned } from "./collection.js";
import { createSqliteCollection } from "./sqlite-collection.js";
import { openSqliteDatabase } from "./sqlite-database.js";

interface Host extends Versioned {
  readonly address: string;
}

const dir = mkdtempSync(join(tmpdir(), "lucid-sqlite-collection-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("createSqliteCollection()", () => {
  it("derives the unique keys of stored records afresh when a rule is added", async () => {
    const path = join(dir, "rules.sqlite");
    const plain: CollectionSpec<Host> = { name: "hosts" };
    let db = openSqliteDatabase(path);
    await createSqliteCollection(db, plain).insert({ id: "h1", address: "10.0.0.1" });
    db.close();

    const ruled: CollectionSpec<Host> = {
      name: "hosts",
      unique: [{ name: "address", key: (h) => h.address }],
    };
    db = openSqliteDatabase(path);
    const hosts = createSqliteCollection(db, ruled);
    await expect(hosts.insert({ id: "h2", address: "10.0.0.1" })).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    await hosts.insert({ id: "h3", address: "10.0.0.3" });
    // The record keeps its key through an update, and gives it up when deleted.
    await hosts.update("h1", 1, {});
    await expect(hosts.insert({ id: "h4", address: "10.0.0.1" })).rejects.toThrow("address");
    await hosts.delete("h1");
    await hosts.insert({ id: "h4", address: "10.0.0.1" });
    db.close();
  });
});
