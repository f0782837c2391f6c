/**
 * The MongoDB Collection, on the official driver. Uniqueness by derived `_u_<rule>` fields under
 * unique indexes (no partial indexes, no transactions, no change streams, no TTL indexes: FerretDB
 * 1.x serves none of them). Reads pass the caller's signal to the driver; writes race it, so a
 * caller is never held past its deadline.
 *
 * Optimistic concurrency: a writer moving record R from version v to v+1 first inserts the claim
 * `R:v+1` into `<collection>_claims`. An insert on a unique _id is atomic everywhere, so exactly
 * one writer of version v wins; the others get ConflictError. (A version condition in the update
 * filter alone is not enough: FerretDB 1.x on SQLite evaluates the filter and then writes by _id,
 * so two writers of the same version can both "match" — FerretDB issue #3040.) The update filter
 * keeps the version condition too, so a real MongoDB gets both guards. A claim whose writer died
 * before writing is taken over after `claimTimeoutMs`.
 *
 * A writer that took a claim and did not write (its write failed, found nothing, or its caller was
 * cut by a deadline or abort while the claim's insert or the write was on the wire) gives the claim
 * back in a `finally` that does not use the caller's signal: it lets its own driver calls settle,
 * for at most `claimReleaseTimeoutMs`, then deletes the claim by its id and this writer's token
 * (never another writer's). A write that landed after its caller was cut keeps its claim, as a
 * completed one does. Readers never look at claims: they always see the last committed record.
 */
import { randomUUID } from "node:crypto";
import type { Db, Document, Filter, Collection as MongoCollection, WriteConcern } from "mongodb";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidPageTokenError,
  NotFoundError,
} from "../errors.js";
import {
  type CallOptions,
  type Changes,
  type Collection,
  type CollectionSpec,
  decodePageToken,
  effectivePageSize,
  encodePageToken,
  type ListOptions,
  type NewRecord,
  operatorOf,
  type Page,
  type Versioned,
  type Where,
} from "./collection.js";
import { abortable, mongoCall } from "./mongo-errors.js";

export interface MongoCollectionOptions {
  /** Write concern of every write. @default { w: "majority" } */
  readonly writeConcern?: WriteConcern | { w: number | "majority"; wtimeoutMS?: number };
  /** The clock for createTime/updateTime. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * After this long, a version claim whose writer never wrote is taken over. A claim lives for one
   * write (milliseconds); only a writer killed between claiming and writing leaves one behind, and
   * until it is taken over every write of that record conflicts, so this bounds how long a crash
   * can hold a record. A live writer slower than this could be overtaken; its write then still
   * carries the version condition. @default 5000
   */
  readonly claimTimeoutMs?: number;
  /**
   * How long a writer that failed or was cut waits for its own driver calls to settle, and then
   * for the claim's deletion, when it gives a claim back. @default 2000
   */
  readonly claimReleaseTimeoutMs?: number;
}

/** A Collection backed by MongoDB, plus index management. */
export interface MongoBackedCollection<T extends Versioned> extends Collection<T> {
  /** Creates the indexes this collection needs (unique rules, list order, filters). Idempotent. */
  ensureIndexes(opts?: CallOptions): Promise<void>;
}

const uniquePrefix = "_u_";

/** Resolves with `p`'s value, or undefined when `p` fails or has not settled within `ms`. */
async function settledWithin<R>(p: Promise<R>, ms: number): Promise<R | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.catch(() => undefined),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A stored record: the id as _id (a string, never an ObjectId). */
type StoredDoc = Document & { _id: string };

function uniqueField(rule: string): string {
  return `${uniquePrefix}${rule}`;
}

/**
 * True for a unique-index violation: E11000 (MongoDB, and FerretDB on insert), or FerretDB 1.x's
 * InternalError carrying SQLite's "UNIQUE constraint failed" (FerretDB on update).
 */
function isDuplicateKey(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const { code, message } = e as { code?: unknown; message?: unknown };
  if (code === 11000) return true;
  return code === 1 && typeof message === "string" && message.includes("UNIQUE constraint failed");
}

/** Translates a Where into a Mongo filter. */
export function toMongoFilter<T>(where: Where<T> | undefined): Filter<StoredDoc> {
  const filter: Record<string, unknown> = {};
  for (const [field, cond] of Object.entries(where ?? {})) {
    if (cond === undefined) continue;
    const path = field === "id" ? "_id" : field;
    const op = operatorOf(cond);
    if (op === undefined) {
      filter[path] = cond;
      continue;
    }
    switch (op.op) {
      case "in":
        filter[path] = { $in: op.value };
        break;
      case "lt":
        filter[path] = { $lt: op.value };
        break;
      case "gte":
        filter[path] = { $gte: op.value };
        break;
      case "exists":
        filter[path] = { $exists: op.value };
        break;
      case "contains":
        for (const [k, v] of Object.entries(op.value)) filter[`${path}.${k}`] = v;
        break;
    }
  }
  return filter as Filter<StoredDoc>;
}

/** Creates a collection on `db`. Call ensureIndexes() before serving. */
export function createMongoCollection<T extends Versioned>(
  db: Db,
  spec: CollectionSpec<T>,
  options: MongoCollectionOptions = {},
): MongoBackedCollection<T> {
  const now = options.now ?? (() => new Date());
  const coll: MongoCollection<StoredDoc> = db.collection<StoredDoc>(spec.name, {
    writeConcern: options.writeConcern ?? { w: "majority" },
  });
  const rules = spec.unique ?? [];
  const claims: MongoCollection<{ _id: string; rid: string; at: Date; w?: string }> = db.collection(
    `${spec.name}_claims`,
    { writeConcern: options.writeConcern ?? { w: "majority" } },
  );
  const claimTimeoutMs = options.claimTimeoutMs ?? 5_000;
  const claimReleaseTimeoutMs = options.claimReleaseTimeoutMs ?? 2_000;

  /**
   * Gives back this writer's claim of version `next` of record `id`, unless `landed` (its write,
   * still settling when the caller was cut) turns out to have happened: then `tidy` does what a
   * completed write does with claims. Never uses the caller's signal; each step is bounded by
   * claimReleaseTimeoutMs. Never throws.
   */
  const giveBack = async (
    id: string,
    next: number,
    token: string,
    pending: Promise<unknown>[],
    landed?: Promise<boolean>,
    tidy: () => Promise<unknown> = () => claims.deleteOne({ _id: `${id}:${next - 1}` }),
  ): Promise<void> => {
    await settledWithin(Promise.allSettled(pending), claimReleaseTimeoutMs);
    if (landed !== undefined && (await settledWithin(landed, claimReleaseTimeoutMs)) === true) {
      await settledWithin(
        tidy().catch(() => undefined),
        claimReleaseTimeoutMs,
      );
      return;
    }
    await settledWithin(
      claims.deleteOne({ _id: `${id}:${next}`, w: token }).catch(() => undefined),
      claimReleaseTimeoutMs,
    );
  };

  /**
   * Claims version `next` of record `id`: this writer's token, or undefined when another writer
   * holds it. A claim whose insert was on the wire when the caller was cut (or whose insert failed
   * without a clear answer) is given back before this throws.
   */
  const claim = async (
    id: string,
    next: number,
    opts?: CallOptions,
  ): Promise<string | undefined> => {
    const claimId = `${id}:${next}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      opts?.signal?.throwIfAborted();
      const token = randomUUID();
      const inserting = claims.insertOne({ _id: claimId, rid: id, at: now(), w: token });
      try {
        await abortable(opts?.signal, inserting);
        return token;
      } catch (e) {
        if (!isDuplicateKey(e)) {
          await giveBack(id, next, token, [inserting]);
          throw e;
        }
        // A writer that claimed and died leaves its claim behind: take it over once stale.
        const cutoff = new Date(now().getTime() - claimTimeoutMs);
        const stale = await abortable(
          opts?.signal,
          claims.deleteOne({ _id: claimId, at: { $lt: cutoff } }),
        );
        if (stale.deletedCount === 0) return undefined;
      }
    }
    return undefined;
  };
  /** Drops the claim of one version: a superseded one, or one whose write did not happen. */
  const dropClaim = async (id: string, version: number): Promise<void> => {
    await claims.deleteOne({ _id: `${id}:${version}` }).catch(() => undefined);
  };

  const toDoc = (record: T): StoredDoc => {
    const { id, ...rest } = record as Versioned & Record<string, unknown>;
    const doc: StoredDoc = { _id: id };
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) doc[k] = v;
    // A rule that does not apply gets a value no other record has.
    for (const rule of rules) doc[uniqueField(rule.name)] = rule.key(record) ?? `~${id}`;
    return doc;
  };
  const fromDoc = (doc: Document): T => {
    const out: Record<string, unknown> = { id: doc._id };
    for (const [k, v] of Object.entries(doc)) {
      if (k === "_id" || k.startsWith(uniquePrefix) || v === null) continue;
      out[k] = v;
    }
    return out as T;
  };

  /** Names the rule a duplicate-key error was about (FerretDB does not report keyPattern). */
  const clashOf = async (record: T, opts?: CallOptions): Promise<AlreadyExistsError> => {
    if (await coll.findOne({ _id: record.id }, { signal: opts?.signal, projection: { _id: 1 } })) {
      return new AlreadyExistsError(spec.name, "id", record.id);
    }
    for (const rule of rules) {
      const key = rule.key(record);
      if (key === undefined) continue;
      const other = await coll.findOne(
        { [uniqueField(rule.name)]: key, _id: { $ne: record.id } },
        { signal: opts?.signal, projection: { _id: 1 } },
      );
      if (other) return new AlreadyExistsError(spec.name, rule.name, key);
    }
    return new AlreadyExistsError(spec.name, "unique key", record.id);
  };

  const readOne = async (id: string, opts?: CallOptions): Promise<T | undefined> => {
    const doc = await coll.findOne({ _id: id }, { signal: opts?.signal });
    return doc ? fromDoc(doc) : undefined;
  };

  const collection: MongoBackedCollection<T> = {
    name: spec.name,
    ensureIndexes: (opts) =>
      mongoCall(async () => {
        for (const rule of rules) {
          await abortable(
            opts?.signal,
            coll.createIndex(
              { [uniqueField(rule.name)]: 1 },
              { unique: true, name: `u_${rule.name}` },
            ),
          );
        }
        await abortable(
          opts?.signal,
          coll.createIndex({ createTime: -1, _id: -1 }, { name: "list_order" }),
        );
        await abortable(opts?.signal, claims.createIndex({ rid: 1 }, { name: "by_record" }));
        for (const field of spec.indexes ?? []) {
          await abortable(opts?.signal, coll.createIndex({ [field]: 1 }, { name: `by_${field}` }));
        }
      }),
    insert: (input: NewRecord<T>, opts) =>
      mongoCall(async () => {
        const t = now();
        const record = { ...input, version: 1, createTime: t, updateTime: t } as unknown as T;
        try {
          await abortable(opts?.signal, coll.insertOne(toDoc(record)));
        } catch (e) {
          if (isDuplicateKey(e)) throw await clashOf(record, opts);
          throw e;
        }
        return record;
      }),
    get: (id, opts) =>
      mongoCall(async () => {
        const r = await readOne(id, opts);
        if (r === undefined) throw new NotFoundError(spec.name, id);
        return r;
      }),
    find: (id, opts) => mongoCall(() => readOne(id, opts)),
    findOne: (where, opts) =>
      mongoCall(async () => {
        const doc = await coll.findOne(toMongoFilter(where), {
          signal: opts?.signal,
          sort: { createTime: -1, _id: -1 },
        });
        return doc ? fromDoc(doc) : undefined;
      }),
    update: (id, expectedVersion, changes: Changes<T>, opts) =>
      mongoCall(async () => {
        const current = await readOne(id, opts);
        if (current === undefined) throw new NotFoundError(spec.name, id);
        if (current.version !== expectedVersion)
          throw new ConflictError(spec.name, id, expectedVersion);
        const next = { ...current } as Record<string, unknown>;
        for (const [k, v] of Object.entries(changes)) {
          if (v === undefined) delete next[k];
          else next[k] = v;
        }
        next.version = expectedVersion + 1;
        next.updateTime = now();
        const record = next as unknown as T;
        const { _id, ...doc } = toDoc(record);
        const token = await claim(id, expectedVersion + 1, opts);
        if (token === undefined) throw new ConflictError(spec.name, id, expectedVersion);
        const unset: Record<string, ""> = {};
        for (const k of Object.keys(current)) if (k !== "id" && !(k in next)) unset[k] = "";
        let writing: Promise<{ matchedCount: number }> | undefined;
        let written = false;
        try {
          writing = coll.updateOne(
            { _id: id, version: expectedVersion },
            Object.keys(unset).length > 0 ? { $set: doc, $unset: unset } : { $set: doc },
          );
          let matched: number;
          try {
            matched = (await abortable(opts?.signal, writing)).matchedCount;
          } catch (e) {
            if (isDuplicateKey(e)) throw await clashOf(record, opts);
            throw e;
          }
          // Deleted or moved on between our read and our write.
          if (matched === 0) {
            if ((await readOne(id, opts)) === undefined) throw new NotFoundError(spec.name, id);
            throw new ConflictError(spec.name, id, expectedVersion);
          }
          written = true;
        } finally {
          // Not written (failed, found nothing, or cut): give the version back, or every later
          // writer would conflict until the claim expires.
          if (!written) {
            await giveBack(
              id,
              expectedVersion + 1,
              token,
              writing ? [writing] : [],
              writing?.then(
                (r) => r.matchedCount > 0,
                () => false,
              ),
            );
          }
        }
        await dropClaim(id, expectedVersion);
        return record;
      }),
    delete: (id, expectedVersion, opts) =>
      mongoCall(async () => {
        const filter: Filter<StoredDoc> = { _id: id };
        if (expectedVersion !== undefined) {
          // Serialize with updates of the same version through the same claim.
          const token = await claim(id, expectedVersion + 1, opts);
          if (token === undefined) {
            if ((await readOne(id, opts)) === undefined) throw new NotFoundError(spec.name, id);
            throw new ConflictError(spec.name, id, expectedVersion);
          }
          filter.version = expectedVersion;
          const deleting = coll.deleteOne(filter);
          let deleted = false;
          try {
            deleted = (await abortable(opts?.signal, deleting)).deletedCount > 0;
          } finally {
            // Not deleted (failed, found nothing, or cut): give the claim back.
            if (!deleted) {
              await giveBack(
                id,
                expectedVersion + 1,
                token,
                [deleting],
                deleting.then(
                  (r) => r.deletedCount > 0,
                  () => false,
                ),
                () => claims.deleteMany({ rid: id }),
              );
            }
          }
          if (!deleted) {
            if ((await readOne(id, opts)) === undefined) throw new NotFoundError(spec.name, id);
            throw new ConflictError(spec.name, id, expectedVersion);
          }
        } else {
          const res = await abortable(opts?.signal, coll.deleteOne(filter));
          if (res.deletedCount === 0) {
            if ((await readOne(id, opts)) === undefined) throw new NotFoundError(spec.name, id);
            throw new ConflictError(spec.name, id, 0);
          }
        }
        await claims.deleteMany({ rid: id }).catch(() => undefined);
      }),
    list: (opts: ListOptions<T> = {}): Promise<Page<T>> =>
      mongoCall(async () => {
        const size = effectivePageSize(opts.pageSize);
        let filter = toMongoFilter(opts.where);
        if (opts.pageToken) {
          const after = decodePageToken(spec.name, opts.pageToken);
          if (after === undefined) throw new InvalidPageTokenError(spec.name);
          const t = new Date(after.time);
          filter = {
            $and: [
              filter,
              { $or: [{ createTime: { $lt: t } }, { createTime: t, _id: { $lt: after.id } }] },
            ],
          };
        }
        const docs = await coll
          .find(filter, { signal: opts.signal, sort: { createTime: -1, _id: -1 }, limit: size + 1 })
          .toArray();
        const items = docs.slice(0, size).map(fromDoc);
        const last = items[items.length - 1];
        return {
          items,
          nextPageToken: docs.length > size && last ? encodePageToken(spec.name, last) : "",
        };
      }),
    count: (where, opts) =>
      mongoCall(() => coll.countDocuments(toMongoFilter(where), { signal: opts?.signal })),
    deleteWhere: (where, opts) =>
      mongoCall(async () => {
        const res = await abortable(opts?.signal, coll.deleteMany(toMongoFilter(where)));
        return res.deletedCount;
      }),
  };
  return collection;
}
