/**
 * The port every document store shares: a collection of versioned records with optimistic
 * concurrency, uniqueness rules, filtered and paged listing, and application-side expiry.
 * A lost update is impossible: `update` names the version it read, and fails with ConflictError if
 * another writer moved it on. Two adapters implement it with the same behaviour: memory (the
 * embedded default) and MongoDB (official driver; only features FerretDB 1.x also serves).
 */

/** Fields every record has; the collection maintains them. */
export interface Versioned {
  readonly id: string;
  /** 1 on insert, +1 on every update. */
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

/** What a caller gives to insert: the record without the maintained fields (id is the caller's). */
export type NewRecord<T extends Versioned> = Omit<T, "version" | "createTime" | "updateTime">;

/** Changes to a record; the maintained fields cannot be changed. */
export type Changes<T extends Versioned> = Partial<Omit<T, keyof Versioned>>;

/**
 * A condition on one field. Plain values match by equality (Dates by time); objects by operator:
 * `in` (one of), `lt` / `gte` (ranges), `exists` (set or unset), `contains` (a string-map field,
 * such as labels, has every given key with the given value).
 */
export type Condition<V> =
  | V
  | { readonly in: readonly V[] }
  | { readonly lt: NonNullable<V> }
  | { readonly gte: NonNullable<V> }
  | { readonly exists: boolean }
  | { readonly contains: Readonly<Record<string, string>> };

/** A filter: every condition must hold. */
export type Where<T> = { readonly [K in keyof T]?: Condition<T[K]> };

/** Options every call takes: the caller's cancel/deadline signal. */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface ListOptions<T> extends CallOptions {
  readonly where?: Where<T>;
  /** @default 50 */
  readonly pageSize?: number;
  /** From a previous page's nextPageToken. */
  readonly pageToken?: string;
}

export interface Page<T> {
  readonly items: T[];
  /** Empty when there are no more pages. */
  readonly nextPageToken: string;
}

/**
 * A uniqueness rule. `key` derives the unique value of a record, or undefined when the rule does
 * not apply to it (for example "one live session per (user, server)" applies to live sessions
 * only). Stored as a derived field, so it works without partial indexes (which FerretDB 1.x lacks).
 */
export interface UniqueRule<T> {
  readonly name: string;
  readonly key: (record: T) => string | undefined;
}

/** Describes one collection: its name, uniqueness rules and the fields it is filtered by. */
export interface CollectionSpec<T extends Versioned> {
  readonly name: string;
  readonly unique?: readonly UniqueRule<T>[];
  /** Fields to index for filters (Mongo adapter). @default none */
  readonly indexes?: readonly (keyof T & string)[];
}

export interface Collection<T extends Versioned> {
  readonly name: string;
  /** Inserts a new record. @throws AlreadyExistsError for a used id or unique key. */
  insert(record: NewRecord<T>, opts?: CallOptions): Promise<T>;
  /** @throws NotFoundError */
  get(id: string, opts?: CallOptions): Promise<T>;
  /** The record, or undefined. */
  find(id: string, opts?: CallOptions): Promise<T | undefined>;
  /** The first record matching `where` in list order, or undefined. */
  findOne(where: Where<T>, opts?: CallOptions): Promise<T | undefined>;
  /**
   * Applies `changes` if the record is still at `expectedVersion`.
   * @throws NotFoundError, ConflictError, AlreadyExistsError (a unique key the change would reuse)
   */
  update(id: string, expectedVersion: number, changes: Changes<T>, opts?: CallOptions): Promise<T>;
  /** Deletes the record if it is at `expectedVersion` (any version when omitted). @throws NotFoundError, ConflictError */
  delete(id: string, expectedVersion?: number, opts?: CallOptions): Promise<void>;
  /** Records matching `where`, newest first (createTime, then id, descending), one page at a time. */
  list(opts?: ListOptions<T>): Promise<Page<T>>;
  count(where?: Where<T>, opts?: CallOptions): Promise<number>;
  /** Deletes every record matching `where` (expiry sweeps); returns how many. */
  deleteWhere(where: Where<T>, opts?: CallOptions): Promise<number>;
}

/** Default and maximum page sizes of every list. */
export const defaultPageSize = 50;
export const maxPageSize = 1000;

/** The next page token after `last`: opaque to callers. */
export function encodePageToken(collection: string, last: Versioned): string {
  return Buffer.from(
    JSON.stringify({ c: collection, t: last.createTime.getTime(), i: last.id }),
  ).toString("base64url");
}

/** Decodes a page token, or undefined when it is not one of this collection's. */
export function decodePageToken(
  collection: string,
  token: string,
): { time: number; id: string } | undefined {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString()) as {
      c?: unknown;
      t?: unknown;
      i?: unknown;
    };
    if (v.c !== collection || typeof v.t !== "number" || typeof v.i !== "string") return undefined;
    return { time: v.t, id: v.i };
  } catch {
    return undefined;
  }
}

/** The page size to use: the default when unset or 0, capped at the maximum. */
export function effectivePageSize(requested: number | undefined): number {
  if (requested === undefined || requested <= 0) return defaultPageSize;
  return Math.min(requested, maxPageSize);
}

/** The operator of a filter condition, or undefined for plain equality. */
export type Operator =
  | { readonly op: "in"; readonly value: readonly unknown[] }
  | { readonly op: "lt" | "gte"; readonly value: unknown }
  | { readonly op: "exists"; readonly value: boolean }
  | { readonly op: "contains"; readonly value: Readonly<Record<string, string>> };

const operators = new Set(["in", "lt", "gte", "exists", "contains"]);

/** Reads a condition: an operator object, or undefined when `v` is a plain value. */
export function operatorOf(v: unknown): Operator | undefined {
  if (v === null || typeof v !== "object" || v instanceof Date || Array.isArray(v))
    return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1 || !operators.has(keys[0] as string)) return undefined;
  const op = keys[0] as Operator["op"];
  return { op, value: (v as Record<string, unknown>)[op] } as Operator;
}
