/** A service's collections in one object, on memory or on MongoDB, built from its specs. */
import type { Db } from "mongodb";
import type {
  CallOptions,
  Collection,
  CollectionSpec,
  Versioned,
} from "../documents/collection.js";
import {
  createMemoryCollection,
  type MemoryCollectionOptions,
} from "../documents/memory-collection.js";
import {
  createMongoCollection,
  type MongoBackedCollection,
  type MongoCollectionOptions,
} from "../documents/mongo-collection.js";
import {
  createSqliteCollection,
  type SqliteCollectionOptions,
} from "../documents/sqlite-collection.js";
import type { SqliteDatabase } from "../documents/sqlite-database.js";
import type { AuditEventRecord, IdempotencyRecord } from "./records.js";
import { auditEventSpec, idempotencySpec } from "./specs.js";

/** A service's collections by name: the specs it passes to {@link openBackends}. */
// biome-ignore lint/suspicious/noExplicitAny: a spec map holds specs of unrelated record types.
export type SpecMap = Readonly<Record<string, CollectionSpec<any>>>;

/** The collections of a {@link SpecMap}, one per spec, under the same names. */
export type StoresOf<S extends SpecMap> = {
  readonly [K in keyof S]: S[K] extends CollectionSpec<infer T> ? Collection<T> : never;
};

/** The collections every service may share: idempotency records and the audit log. */
export const sharedSpecs = {
  idempotency: idempotencySpec,
  auditEvents: auditEventSpec,
} as const satisfies SpecMap;

export type IdempotencyStore = Collection<IdempotencyRecord>;
export type AuditEventStore = Collection<AuditEventRecord>;

function build<S extends SpecMap>(
  specs: S,
  make: <T extends Versioned>(spec: CollectionSpec<T>) => Collection<T>,
): StoresOf<S> {
  return Object.fromEntries(
    Object.entries(specs).map(([k, spec]) => [k, make(spec as CollectionSpec<Versioned>)]),
  ) as StoresOf<S>;
}

/** The embedded collections of `specs`: state lives in this process and is lost on exit. */
export function createMemoryStores<S extends SpecMap>(
  specs: S,
  opts: MemoryCollectionOptions = {},
): StoresOf<S> {
  return build(specs, (spec) => createMemoryCollection(spec, opts));
}

/**
 * The collections of `specs` in one SQLite database (see openSqliteDatabase): embedded state that
 * survives a restart. Creates their tables and indexes if missing.
 */
export function createSqliteStores<S extends SpecMap>(
  db: SqliteDatabase,
  specs: S,
  opts: SqliteCollectionOptions = {},
): StoresOf<S> {
  return build(specs, (spec) => createSqliteCollection(db, spec, opts));
}

/** Collections on MongoDB, with the step that creates their indexes. */
export type MongoStores<S extends SpecMap> = StoresOf<S> & {
  /** Creates every collection's indexes; idempotent. */
  ensureIndexes(opts?: CallOptions): Promise<void>;
};

/** The collections of `specs` on a MongoDB database. Call ensureIndexes() before serving. */
export function createMongoStores<S extends SpecMap>(
  db: Db,
  specs: S,
  opts: MongoCollectionOptions = {},
): MongoStores<S> {
  const all: MongoBackedCollection<Versioned>[] = [];
  const collections = build(specs, (spec) => {
    const c = createMongoCollection(db, spec, opts);
    all.push(c as unknown as MongoBackedCollection<Versioned>);
    return c;
  });
  return Object.assign(collections, {
    async ensureIndexes(o?: CallOptions) {
      for (const c of all) await c.ensureIndexes(o);
    },
  });
}

/**
 * Deletes expired idempotency records and audit events older than the retention: FerretDB has no
 * TTL indexes, so expiry is the application's job (run it from a leader-only loop).
 */
export async function sweepExpired(
  stores: { readonly idempotency: IdempotencyStore; readonly auditEvents: AuditEventStore },
  now: Date,
  auditRetentionMs: number,
  opts?: CallOptions,
): Promise<{ idempotency: number; auditEvents: number }> {
  const idempotency = await stores.idempotency.deleteWhere({ expireTime: { lt: now } }, opts);
  const auditEvents = await stores.auditEvents.deleteWhere(
    { time: { lt: new Date(now.getTime() - auditRetentionMs) } },
    opts,
  );
  return { idempotency, auditEvents };
}
