/**
 * The embedded Collection: records in a Map, cloned in and out so that callers can never change
 * stored state by accident. Same semantics as the Mongo adapter, checked by the same contract suite.
 */
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

export interface MemoryCollectionOptions {
  /** The clock for createTime/updateTime. @default () => new Date() */
  readonly now?: () => Date;
}

/** Compares two field values: Dates by time, everything else by ===. */
function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

function orderable(v: unknown): number | string | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v === "number" || typeof v === "string") return v;
  return undefined;
}

/** True when `record` satisfies every condition of `where`. */
export function matches<T>(record: T, where: Where<T> | undefined): boolean {
  if (where === undefined) return true;
  for (const [field, cond] of Object.entries(where)) {
    if (cond === undefined) continue;
    const value = (record as Record<string, unknown>)[field];
    const op = operatorOf(cond);
    if (op === undefined) {
      if (!same(value, cond)) return false;
      continue;
    }
    switch (op.op) {
      case "in":
        if (!op.value.some((x) => same(value, x))) return false;
        break;
      case "exists":
        if ((value !== undefined) !== op.value) return false;
        break;
      case "contains": {
        const map = (value ?? {}) as Record<string, string>;
        for (const [k, v] of Object.entries(op.value)) if (map[k] !== v) return false;
        break;
      }
      case "lt":
      case "gte": {
        const a = orderable(value);
        const b = orderable(op.value);
        if (a === undefined || b === undefined) return false;
        if (op.op === "lt" ? !(a < b) : !(a >= b)) return false;
        break;
      }
    }
  }
  return true;
}

/** Newest first: createTime descending, then id descending. */
function byListOrder(a: Versioned, b: Versioned): number {
  const t = b.createTime.getTime() - a.createTime.getTime();
  if (t !== 0) return t;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function checkSignal(opts?: CallOptions): void {
  opts?.signal?.throwIfAborted();
}

/** Creates an in-memory collection. */
export function createMemoryCollection<T extends Versioned>(
  spec: CollectionSpec<T>,
  options: MemoryCollectionOptions = {},
): Collection<T> {
  const now = options.now ?? (() => new Date());
  const records = new Map<string, T>();
  /** rule name -> unique key -> id */
  const keys = new Map<string, Map<string, string>>(
    (spec.unique ?? []).map((r) => [r.name, new Map<string, string>()]),
  );

  const clashes = (candidate: T): { rule: string; key: string } | undefined => {
    for (const rule of spec.unique ?? []) {
      const key = rule.key(candidate);
      if (key === undefined) continue;
      const owner = keys.get(rule.name)?.get(key);
      if (owner !== undefined && owner !== candidate.id) return { rule: rule.name, key };
    }
    return undefined;
  };
  const index = (record: T, add: boolean) => {
    for (const rule of spec.unique ?? []) {
      const key = rule.key(record);
      if (key === undefined) continue;
      if (add) keys.get(rule.name)?.set(key, record.id);
      else keys.get(rule.name)?.delete(key);
    }
  };
  const mustGet = (id: string): T => {
    const r = records.get(id);
    if (r === undefined) throw new NotFoundError(spec.name, id);
    return r;
  };

  const collection: Collection<T> = {
    name: spec.name,
    async insert(input: NewRecord<T>, opts) {
      checkSignal(opts);
      if (records.has(input.id)) throw new AlreadyExistsError(spec.name, "id", input.id);
      const t = now();
      const record = structuredClone({ ...input, version: 1, createTime: t, updateTime: t }) as T;
      const clash = clashes(record);
      if (clash) throw new AlreadyExistsError(spec.name, clash.rule, clash.key);
      records.set(record.id, record);
      index(record, true);
      return structuredClone(record);
    },
    async get(id, opts) {
      checkSignal(opts);
      return structuredClone(mustGet(id));
    },
    async find(id, opts) {
      checkSignal(opts);
      const r = records.get(id);
      return r === undefined ? undefined : structuredClone(r);
    },
    async findOne(where, opts) {
      checkSignal(opts);
      const found = [...records.values()].filter((r) => matches(r, where)).sort(byListOrder)[0];
      return found === undefined ? undefined : structuredClone(found);
    },
    async update(id, expectedVersion, changes: Changes<T>, opts) {
      checkSignal(opts);
      const current = mustGet(id);
      if (current.version !== expectedVersion) {
        throw new ConflictError(spec.name, id, expectedVersion);
      }
      const next = { ...current } as Record<string, unknown>;
      for (const [k, v] of Object.entries(changes)) {
        if (v === undefined) delete next[k];
        else next[k] = structuredClone(v);
      }
      next.version = current.version + 1;
      next.updateTime = now();
      const record = next as unknown as T;
      const clash = clashes(record);
      if (clash) throw new AlreadyExistsError(spec.name, clash.rule, clash.key);
      index(current, false);
      records.set(id, record);
      index(record, true);
      return structuredClone(record);
    },
    async delete(id, expectedVersion, opts) {
      checkSignal(opts);
      const current = mustGet(id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) {
        throw new ConflictError(spec.name, id, expectedVersion);
      }
      index(current, false);
      records.delete(id);
    },
    async list(opts: ListOptions<T> = {}): Promise<Page<T>> {
      checkSignal(opts);
      const size = effectivePageSize(opts.pageSize);
      let all = [...records.values()].filter((r) => matches(r, opts.where)).sort(byListOrder);
      if (opts.pageToken) {
        const after = decodePageToken(spec.name, opts.pageToken);
        if (after === undefined) throw new InvalidPageTokenError(spec.name);
        all = all.filter(
          (r) =>
            r.createTime.getTime() < after.time ||
            (r.createTime.getTime() === after.time && r.id < after.id),
        );
      }
      const items = all.slice(0, size).map((r) => structuredClone(r));
      const last = items[items.length - 1];
      return {
        items,
        nextPageToken: all.length > size && last ? encodePageToken(spec.name, last) : "",
      };
    },
    async count(where, opts) {
      checkSignal(opts);
      return [...records.values()].filter((r) => matches(r, where)).length;
    },
    async deleteWhere(where, opts) {
      checkSignal(opts);
      let n = 0;
      for (const r of [...records.values()]) {
        if (matches(r, where)) {
          index(r, false);
          records.delete(r.id);
          n++;
        }
      }
      return n;
    },
  };
  return collection;
}
