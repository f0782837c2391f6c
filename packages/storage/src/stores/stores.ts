/** Every store of the mesh in one object, on memory or on MongoDB. */
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
import type {
  AlertRecord,
  AlertRuleRecord,
  AuditEventRecord,
  IdempotencyRecord,
  InstanceRecord,
  NodeRecord,
  ServerRecord,
  SessionRecord,
} from "./records.js";
import {
  alertRuleSpec,
  alertSpec,
  auditEventSpec,
  idempotencySpec,
  instanceSpec,
  nodeSpec,
  serverSpec,
  sessionSpec,
} from "./specs.js";

export type ServerStore = Collection<ServerRecord>;
export type NodeStore = Collection<NodeRecord>;
export type InstanceStore = Collection<InstanceRecord>;
export type SessionStore = Collection<SessionRecord>;
export type AlertRuleStore = Collection<AlertRuleRecord>;
export type AlertStore = Collection<AlertRecord>;
export type IdempotencyStore = Collection<IdempotencyRecord>;
export type AuditEventStore = Collection<AuditEventRecord>;

export interface Stores {
  readonly servers: ServerStore;
  readonly nodes: NodeStore;
  readonly instances: InstanceStore;
  readonly sessions: SessionStore;
  readonly alertRules: AlertRuleStore;
  readonly alerts: AlertStore;
  readonly idempotency: IdempotencyStore;
  readonly auditEvents: AuditEventStore;
}

/** The names of the stores, in a fixed order. */
export const storeNames = [
  "servers",
  "nodes",
  "instances",
  "sessions",
  "alertRules",
  "alerts",
  "idempotency",
  "auditEvents",
] as const satisfies readonly (keyof Stores)[];

type Specs = { readonly [K in keyof Stores]: CollectionSpec<StoreRecord<K>> };
type StoreRecord<K extends keyof Stores> = Stores[K] extends Collection<infer T> ? T : never;

const specs: Specs = {
  servers: serverSpec,
  nodes: nodeSpec,
  instances: instanceSpec,
  sessions: sessionSpec,
  alertRules: alertRuleSpec,
  alerts: alertSpec,
  idempotency: idempotencySpec,
  auditEvents: auditEventSpec,
};

function build<C extends Collection<Versioned>>(
  make: <T extends Versioned>(spec: CollectionSpec<T>) => C,
): { [K in keyof Stores]: C } {
  return Object.fromEntries(
    Object.entries(specs).map(([k, spec]) => [k, make(spec as CollectionSpec<Versioned>)]),
  ) as { [K in keyof Stores]: C };
}

/** The embedded stores: state lives in this process and is lost on exit. */
export function createMemoryStores(opts: MemoryCollectionOptions = {}): Stores {
  return build((spec) => createMemoryCollection(spec, opts)) as unknown as Stores;
}

export interface MongoStores extends Stores {
  /** Creates every collection's indexes; idempotent. */
  ensureIndexes(opts?: CallOptions): Promise<void>;
}

/** The stores on a MongoDB database. Call ensureIndexes() before serving. */
export function createMongoStores(db: Db, opts: MongoCollectionOptions = {}): MongoStores {
  const collections = build((spec) => createMongoCollection(db, spec, opts) as never);
  const all = Object.values(collections) as unknown as MongoBackedCollection<Versioned>[];
  return {
    ...(collections as unknown as Stores),
    async ensureIndexes(o) {
      for (const c of all) await c.ensureIndexes(o);
    },
  };
}

/**
 * Deletes expired idempotency records and audit events older than the retention: FerretDB has no
 * TTL indexes, so expiry is the application's job (run it from a leader-only loop).
 */
export async function sweepExpired(
  stores: Pick<Stores, "idempotency" | "auditEvents">,
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
