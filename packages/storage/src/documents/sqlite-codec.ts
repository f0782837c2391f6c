/**
 * How the SQLite adapter stores a record: JSON text, with every Date (at any depth) written as its
 * epoch milliseconds and its path listed beside the JSON, so that reading brings back exactly the
 * Dates that were written (as reviveDates does for bus payloads, with the paths recorded per
 * record instead of declared). Milliseconds compare and index as plain numbers in SQL.
 */

/** A stored record: its JSON and the paths of its Dates (each a list of keys and indexes). */
export interface EncodedRecord {
  readonly json: string;
  /** JSON of `(string | number)[][]`; "[]" when the record has no Date. */
  readonly dates: string;
}

type Path = (string | number)[];

/** Encodes a record: Dates become milliseconds and their paths are collected. */
export function encodeRecord(record: object): EncodedRecord {
  const paths: Path[] = [];
  const walk = (v: unknown, path: Path): unknown => {
    if (v instanceof Date) {
      paths.push(path);
      return v.getTime();
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = walk(x, [...path, k]);
      return out;
    }
    return v;
  };
  const plain = walk(record, []);
  return { json: JSON.stringify(plain), dates: JSON.stringify(paths) };
}

/** Decodes what {@link encodeRecord} wrote: a fresh object with its Dates revived. */
export function decodeRecord<T>(json: string, dates: string): T {
  const out = JSON.parse(json) as Record<string | number, unknown>;
  for (const path of JSON.parse(dates) as Path[]) {
    let parent: Record<string | number, unknown> = out;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = path[path.length - 1] as string | number;
    parent[last] = new Date(parent[last] as number);
  }
  return out as T;
}
