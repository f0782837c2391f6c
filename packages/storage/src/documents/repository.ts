/**
 * The one place a service reads, changes, writes (with the optimistic-concurrency retry), emits
 * and audits a record: `Repository.modify(id, fn)`. Each service builds its repositories on it.
 *
 * A change and the events that announce it are stored together, in one versioned write: the events
 * go into the record's own outbox (`Outboxed.outbox`), because FerretDB 1.x has no transactions
 * across collections. After the write the writer publishes them on the bus and writes their audit
 * records (the fast path). A writer that dies in between leaves them in the outbox, where the
 * relay (`relayOnce`, run by a leader) finds them and does the same. Both publish with the event's
 * id as the bus's publish key and write its audit record under the same id, so an event is on the
 * bus once and audited once, whoever gets there first. Entries this process has delivered are
 * dropped from the outbox by the next write of the record (the relay's included): no extra write
 * on the hot path.
 */

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { EventBus } from "../coordination/ports.js";
import { AlreadyExistsError, ConflictError } from "../errors.js";
import type { AuditEventRecord } from "../stores/records.js";
import type { AuditEventStore } from "../stores/stores.js";
import type { CallOptions, Changes, Collection, NewRecord, Versioned } from "./collection.js";

/** An event stored with the change it announces, until it is published and audited. */
export interface OutboxEntry {
  /** The event's publish key on the bus and the id of its audit record. */
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  /** ISO 8601: when the change was written. */
  readonly time: string;
  /** The event's data, as JSON. */
  readonly data: string;
  readonly audit?: AuditDraft;
}

/** An audit record to write for an event: its id and time are the event's. */
export type AuditDraft = Omit<AuditEventRecord, keyof Versioned | "time">;

/** A record with an outbox. */
export interface Outboxed extends Versioned {
  readonly outbox?: readonly OutboxEntry[];
  /** When the oldest entry still in `outbox` was written; unset when it is empty. */
  readonly outboxSince?: Date;
}

/** The outbox fields: not part of what an event carries. */
type OutboxFields = "outbox" | "outboxSince";

/** An event a change announces. */
export interface EventDraft<T> {
  readonly type: string;
  /** Its data, from the record as the change stores it (without the outbox fields). */
  readonly data: (record: Omit<T, OutboxFields>) => unknown;
  /** Its audit record, from the record as the change stores it. @default none */
  readonly audit?: (record: Omit<T, OutboxFields>) => AuditDraft;
}

/** Options of {@link Repository.modify}. */
export interface ModifyOptions<T> extends CallOptions {
  /**
   * The record as the caller has it from its own last write or read: the first attempt writes on
   * it instead of reading it again (one round trip less). A stale one only costs a ConflictError,
   * after which the record is read as usual. @default read first
   */
  readonly current?: T;
}

/** What `modify`'s function decides: the changes, and the events announcing them. */
export interface Modification<T extends Versioned> {
  readonly changes: Changes<T>;
  readonly events?: readonly EventDraft<T>[];
}

export interface RepositoryOptions<T extends Outboxed> {
  readonly collection: Collection<T>;
  readonly bus: EventBus;
  /** Where audit drafts are written; required when an event carries one. @default none */
  readonly audit?: AuditEventStore;
  /** Told of deliveries that failed (the relay retries them). */
  readonly logger: { warn(obj: object, msg: string): void };
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** How many times `modify` re-reads and retries after a ConflictError. @default 8 */
  readonly maxAttempts?: number;
}

/** How many delivered entry ids a repository remembers to drop from outboxes. */
const sentMemory = 10_000;

export class Repository<T extends Outboxed> {
  readonly collection: Collection<T>;
  private readonly now: () => Date;
  /** Ids of outbox entries this process delivered: the next write of their record drops them. */
  private readonly sent = new Set<string>();

  constructor(private readonly opts: RepositoryOptions<T>) {
    this.collection = opts.collection;
    this.now = opts.now ?? (() => new Date());
  }

  get(id: string, opts?: CallOptions): Promise<T> {
    return this.collection.get(id, opts);
  }

  find(id: string, opts?: CallOptions): Promise<T | undefined> {
    return this.collection.find(id, opts);
  }

  /** Inserts a record with the events announcing it, then delivers them. @throws AlreadyExistsError */
  async insert(
    record: NewRecord<T>,
    events: readonly EventDraft<T>[],
    opts?: CallOptions,
  ): Promise<T> {
    const now = this.now();
    const snapshot = { ...record, version: 1, createTime: now, updateTime: now } as unknown as T;
    const outbox = events.map((e) => this.entry(record.id, e, snapshot, now));
    const stored = await this.collection.insert(
      {
        ...record,
        ...(outbox.length > 0 ? { outbox, outboxSince: now } : {}),
      } as NewRecord<T>,
      opts,
    );
    await this.deliver(stored, this.rendered(stored, outbox, events));
    return stored;
  }

  /**
   * Reads the record, asks `fn` what to change, writes it with the events `fn` names in the same
   * versioned write, and retries from a fresh read when another writer got there first. `fn` may
   * run several times and must not have side effects; it returns undefined to change nothing.
   * Returns the record as stored, and whether this call changed it. With `opts.current`, the
   * first attempt starts from that record; where `fn` changes nothing on it or throws, from a
   * fresh read (so the answer is never decided on a stale copy alone).
   * @throws NotFoundError, ConflictError after `maxAttempts`, and whatever `fn` throws
   */
  async modify(
    id: string,
    fn: (current: T) => Modification<T> | undefined,
    opts?: ModifyOptions<T>,
  ): Promise<{ record: T; changed: boolean }> {
    const maxAttempts = this.opts.maxAttempts ?? 8;
    const known = opts?.current?.id === id ? opts.current : undefined;
    for (let attempt = 1; ; attempt++) {
      // The caller's copy first (attempt 1). Nothing to change on it, or a refusal: decided on
      // the stored record, which may have moved on since.
      const onCopy = attempt === 1 && known !== undefined ? decideOn(fn, known) : undefined;
      const current =
        onCopy !== undefined && known !== undefined ? known : await this.collection.get(id, opts);
      const m = onCopy ?? fn(current);
      if (m === undefined) return { record: current, changed: false };
      const now = this.now();
      const predicted = {
        ...current,
        ...m.changes,
        version: current.version + 1,
        updateTime: now,
      } as T;
      const events = m.events ?? [];
      const fresh = events.map((e) => this.entry(id, e, predicted, now));
      try {
        const next = await this.collection.update(
          id,
          current.version,
          { ...m.changes, ...this.outboxChanges(current, fresh) },
          opts,
        );
        await this.deliver(next, this.rendered(next, fresh, events));
        return { record: next, changed: true };
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= maxAttempts) throw e;
        // Another writer's write of this version may still be on the wire (its claim taken, its
        // update not landed): reading again at once would see the same version and lose again.
        // A short random pause, growing with each loss, lets it land.
        await pauseAfterConflict(attempt, opts?.signal);
      }
    }
  }

  /**
   * One round of the relay: delivers the outbox of every record whose oldest entry is older than
   * `olderThanMs`, then drops the delivered entries. Returns how many entries it delivered.
   */
  async relayOnce(olderThanMs: number, opts?: CallOptions): Promise<number> {
    const cutoff = new Date(this.now().getTime() - olderThanMs);
    const page = await this.collection.list({
      where: { outboxSince: { lt: cutoff } } as never,
      pageSize: 200,
      signal: opts?.signal,
    });
    let delivered = 0;
    for (const r of page.items) {
      delivered += await this.deliver(r, r.outbox ?? []);
      try {
        await this.modify(r.id, (cur) => (this.hasSent(cur) ? { changes: {} } : undefined), opts);
      } catch (e) {
        this.opts.logger.warn({ err: e, record: r.id }, "outbox not compacted: next round");
      }
    }
    return delivered;
  }

  private hasSent(r: T): boolean {
    return (r.outbox ?? []).some((e) => this.sent.has(e.id));
  }

  /** The outbox after a write: entries delivered here dropped, `fresh` appended. */
  private outboxChanges(current: T, fresh: readonly OutboxEntry[]): Changes<T> {
    const kept = (current.outbox ?? []).filter((e) => !this.sent.has(e.id));
    const outbox = [...kept, ...fresh];
    const first = outbox[0];
    return {
      outbox: outbox.length > 0 ? outbox : undefined,
      outboxSince: first === undefined ? undefined : new Date(first.time),
    } as Changes<T>;
  }

  private entry(id: string, e: EventDraft<T>, record: T, now: Date): OutboxEntry {
    return {
      id: randomUUID(),
      type: e.type,
      subject: id,
      time: now.toISOString(),
      data: JSON.stringify(e.data(withoutOutbox(record)) ?? null),
      ...(e.audit ? { audit: e.audit(withoutOutbox(record)) } : {}),
    };
  }

  /**
   * The entries to deliver after a write: the ones left from earlier writes as stored, then the
   * fresh ones with their data from the record as actually stored (its exact update time).
   */
  private rendered(
    stored: T,
    fresh: readonly OutboxEntry[],
    drafts: readonly EventDraft<T>[],
  ): OutboxEntry[] {
    const freshIds = new Set(fresh.map((e) => e.id));
    const earlier = (stored.outbox ?? []).filter((e) => !freshIds.has(e.id));
    const exact = fresh.map((e, i) => {
      const draft = drafts[i] as EventDraft<T>;
      const record = withoutOutbox(stored);
      return {
        ...e,
        data: JSON.stringify(draft.data(record) ?? null),
        ...(draft.audit ? { audit: draft.audit(record) } : {}),
      };
    });
    return [...earlier, ...exact];
  }

  /**
   * Publishes and audits `entries` in order; stops at the first failure. Returns how many. An
   * entry's publish and audit insert go out side by side (one round trip of waiting, not two): each
   * is keyed by the entry's id, so a retry by the relay after either failed repeats neither.
   */
  private async deliver(record: T, entries: readonly OutboxEntry[]): Promise<number> {
    let n = 0;
    for (const e of entries) {
      if (this.sent.has(e.id)) continue;
      try {
        const audit = e.audit;
        const store = this.opts.audit;
        if (audit !== undefined && store === undefined) {
          throw new Error(`${e.type} has an audit record and no store`);
        }
        const published = this.opts.bus.publish({
          type: e.type,
          subject: e.subject,
          time: new Date(e.time),
          data: JSON.parse(e.data),
          key: e.id,
        });
        const audited =
          audit === undefined || store === undefined
            ? undefined
            : store.insert({ ...audit, id: e.id, time: new Date(e.time) }).catch((err: unknown) => {
                if (!(err instanceof AlreadyExistsError)) throw err;
              });
        // Both settle before the outcome is judged: no write is left running behind a failure.
        const [p, a] = await Promise.allSettled([published, audited]);
        if (p.status === "rejected") throw p.reason;
        if (a.status === "rejected") throw a.reason;
      } catch (err) {
        this.opts.logger.warn(
          { err, record: record.id, event: e.type },
          "event not delivered yet: the outbox relay retries",
        );
        return n;
      }
      if (this.sent.size >= sentMemory) this.sent.clear();
      this.sent.add(e.id);
      n++;
    }
    return n;
  }
}

/** What `fn` decides on `record`; undefined when it throws (the caller decides again on a read). */
function decideOn<T extends Versioned>(
  fn: (current: T) => Modification<T> | undefined,
  record: T,
): Modification<T> | undefined {
  try {
    return fn(record);
  } catch {
    return undefined;
  }
}

function withoutOutbox<T extends Outboxed>(r: T): Omit<T, OutboxFields> {
  const { outbox: _o, outboxSince: _s, ...rest } = r;
  return rest;
}

/** Waits a random 0 .. 2^attempt ms (at most 100 ms), or until `signal` aborts. */
async function pauseAfterConflict(attempt: number, signal?: AbortSignal): Promise<void> {
  const ms = Math.random() * Math.min(100, 2 ** attempt);
  await sleep(ms, undefined, { signal }).catch(() => undefined);
  signal?.throwIfAborted();
}
