import { describe, expect, it } from "vitest";
import type { Versioned, Where } from "./collection.js";
import { createMemoryCollection } from "./memory-collection.js";
import { createSqliteCollection } from "./sqlite-collection.js";
import { openSqliteDatabase } from "./sqlite-database.js";

interface Rec extends Versioned {
  readonly v?: unknown;
  readonly labels?: Record<string, string>;
}

/** Field values of every JSON type, so that a filter on one type must not match another. */
// (No numeric string: memory's < and >= coerce "1" to 1, MongoDB and SQLite do not.)
const values: unknown[] = [1, 2.5, "one", "b", true, false, null, new Date(1000), { a: 1 }, [1]];

const wheres: Where<Rec>[] = [
  { v: 1 },
  { v: "one" },
  { v: true },
  { v: false },
  { v: null as never },
  { v: new Date(1000) },
  { v: { in: [1, "b", false] } },
  { v: { in: [] } },
  { v: { gte: 1 } },
  { v: { lt: 2 } },
  { v: { gte: "a" } },
  { v: { lt: new Date(2000) } },
  { v: { exists: true } },
  { v: { exists: false } },
  { labels: { contains: { k: "x" } } },
  { labels: { contains: { 'we"ird': "y", k: "x" } } },
  { id: { in: ["r0", "r3"] } },
];

describe("toSqlWhere()", () => {
  it("selects exactly what the memory adapter selects, type for type", async () => {
    const memory = createMemoryCollection<Rec>({ name: "recs" });
    const sqlite = createSqliteCollection<Rec>(openSqliteDatabase(":memory:"), {
      name: "recs",
      indexes: ["v"],
    });
    const records = [
      ...values.map((v, i) => ({
        id: `r${i}`,
        v,
        labels: { k: i % 2 ? "x" : "z", 'we"ird': "y" },
      })),
      { id: "none" },
    ];
    for (const r of records) {
      await memory.insert(r as never);
      await sqlite.insert(r as never);
    }
    for (const where of wheres) {
      const ids = async (c: typeof memory) =>
        (await c.list({ where, pageSize: 1000 })).items.map((r) => r.id).sort();
      expect(await ids(sqlite), JSON.stringify(where)).toEqual(await ids(memory));
      expect(await sqlite.count(where)).toBe(await memory.count(where));
    }
  });
});
