/**
 * The coordination ports: leases with fencing, per-node port leases, cluster-wide counters and the
 * event bus. Plain TypeScript; each has a Redis adapter (redis-*.ts) and a memory adapter
 * (memory-*.ts) with the same semantics, checked by one contract suite per port.
 *
 * Every method that talks to a backend takes an optional `{ signal }`: when it aborts, the call
 * rejects with the signal's reason (the command may still reach the backend). Backend outages
 * surface as `BackendUnavailableError`.
 */

/** Options every backend call accepts. */
export interface CallOptions {
  /** Deadline and cancellation of the caller (e.g. `ctx.signal`). */
  readonly signal?: AbortSignal;
}

/** A held lease. Write with `fence` so that a holder that lost the lease cannot act on it. */
export interface Lease {
  readonly name: string;
  /** Random token proving this acquisition; renew and release compare it. */
  readonly token: string;
  /** Strictly larger for every acquisition of the same name. */
  readonly fence: number;
  /** When the lease lapses unless renewed (a lower bound of the backend's expiry). */
  readonly expiresAt: Date;
}

/** Named, expiring, exclusive leases with fencing numbers. */
export interface LeaseManager {
  /** Takes the lease when nobody holds it; `undefined` when it is held. */
  acquire(name: string, ttlMs: number, opts?: CallOptions): Promise<Lease | undefined>;
  /** Extends the lease to `ttlMs` from now; false when it is no longer held by this token. */
  renew(lease: Lease, ttlMs: number, opts?: CallOptions): Promise<boolean>;
  /** Gives the lease up; false when it was no longer held by this token. */
  release(lease: Lease, opts?: CallOptions): Promise<boolean>;
  /** True while this token holds the lease and its fence is the latest issued for the name. */
  isCurrent(lease: Lease, opts?: CallOptions): Promise<boolean>;
  /** Throws `LeaseLostError` unless `isCurrent(lease)`. */
  assertCurrent(lease: Lease, opts?: CallOptions): Promise<void>;
}

/** The ports of a node's pool, both ends included. */
export interface PortRange {
  readonly start: number;
  readonly end: number;
}

/** Where `PortLeases.allocate` starts its scan, and what it passes over. */
export interface AllocateOptions extends CallOptions {
  /**
   * Where the scan starts, as an index into the range (0 is `range.start`); it wraps around
   * after `range.end`. Callers pass a random one so that concurrent allocators rarely meet.
   * @default 0
   */
  readonly offset?: number;
  /**
   * Ports not to hand out by this call even when free, e.g. the ones the node just found it
   * could not bind. Ports outside the range change nothing.
   * @default none
   */
  readonly skip?: Iterable<number>;
}

/** Exclusive ownership of TCP ports per node, shared by every replica (the port pool of issue 5). */
export interface PortLeases {
  /**
   * Claims a port of `range` for `ownerId` in one atomic step: the first port, in scan order
   * from `range.start + offset` (wrapping), that is not in `skip` and that `claim` would grant
   * (free, or already owned by `ownerId`). Claims carry no expiry: a port is free once its claim
   * was released (`release`, `releaseAllOf`, the reaper). The port, or `undefined` when every port
   * of the range is claimed by others or skipped. Concurrent calls never get the same port and
   * never lose a race: each one scans the pool as it is when it runs.
   */
  allocate(
    nodeId: string,
    range: PortRange,
    ownerId: string,
    opts?: AllocateOptions,
  ): Promise<number | undefined>;
  /**
   * Makes `ownerId` the owner of the port when it is free. True when `ownerId` owns it afterwards
   * (claiming a port one already owns is a no-op that returns true, so a retried claim is safe).
   */
  claim(nodeId: string, port: number, ownerId: string, opts?: CallOptions): Promise<boolean>;
  /** Frees the port if `ownerId` owns it; false otherwise (free, or owned by someone else). */
  release(nodeId: string, port: number, ownerId: string, opts?: CallOptions): Promise<boolean>;
  /** The owner of the port, `undefined` when free. */
  owner(nodeId: string, port: number, opts?: CallOptions): Promise<string | undefined>;
  /** Every claimed port of the node and its owner, by ascending port. */
  list(nodeId: string, opts?: CallOptions): Promise<Map<number, string>>;
  /** Frees every port of the node owned by `ownerId` (reclaiming a dead server's ports); the count. */
  releaseAllOf(ownerId: string, nodeId: string, opts?: CallOptions): Promise<number>;
}

/** The outcome of `Counters.tryIncrement`. */
export interface IncrementResult {
  /** True when the counter was below the limit and was incremented. */
  readonly ok: boolean;
  /** The counter's value after the call. */
  readonly value: number;
}

/** Cluster-wide non-negative counters for caps (issue 6). A missing counter reads 0. */
export interface Counters {
  /** Increments the counter only while it is below `limit`, atomically. */
  tryIncrement(key: string, limit: number, opts?: CallOptions): Promise<IncrementResult>;
  /** Decrements the counter, never below 0; the new value. */
  decrement(key: string, opts?: CallOptions): Promise<number>;
  get(key: string, opts?: CallOptions): Promise<number>;
  /** Overwrites the counter (reconciliation from the stores); `value` is a non-negative integer. */
  set(key: string, value: number, opts?: CallOptions): Promise<void>;
}

/** The families of events; each has its own stream. */
export type EventFamily = "session" | "server" | "instance" | "alert";

/** Every event family, in a stable order. */
export const EVENT_FAMILIES: readonly EventFamily[] = ["session", "server", "instance", "alert"];

/** An event as stored and delivered. */
export interface BusEvent<T = unknown> {
  /** `<ms>-<seq>`, increasing within the family; the cursor to resume after this event. */
  readonly id: string;
  /** Starts with its family and a dot, e.g. "session.created". */
  readonly type: string;
  /** The id of the resource the event is about. */
  readonly subject: string;
  readonly time: Date;
  /** JSON-serialisable payload. */
  readonly data: T;
}

/** An event to publish; its family is the part of `type` before the first dot. */
export interface NewBusEvent<T = unknown> {
  readonly type: string;
  readonly subject: string;
  readonly data: T;
  /** @default now */
  readonly time?: Date;
  /**
   * Publish at most once per key: a second publish with a key seen in the last hour (same family)
   * appends nothing and returns the first one's id. An outbox relays an event with its key, so
   * that an event published by its writer and again by the relay after a crash is on the bus once.
   * @default none (every publish appends)
   */
  readonly key?: string;
}

export interface ReadOptions extends CallOptions {
  /** Return only events after this id (exclusive). @default the beginning of the retained history */
  readonly after?: string;
  /** The most events returned. @default 100 */
  readonly count?: number;
}

export interface SubscribeOptions {
  /**
   * Replay every event after this id, then follow live. Without it the subscription starts at the
   * next event published.
   */
  readonly after?: string;
  /** Ends the subscription cleanly (the iteration returns). */
  readonly signal: AbortSignal;
  /** How long one blocking read waits on the backend before it is issued again. @default 5000 */
  readonly blockMs?: number;
}

/**
 * Typed events on bounded, resumable streams (one per family). Cursor errors: a malformed cursor
 * throws `InvalidCursorError`; a cursor older than the retained history or never issued throws
 * `CursorOutOfRangeError`. A subscription throws them from its first iteration step.
 */
export interface EventBus {
  /** Appends the event to its family's stream, trimming the stream to its bounded length; the id. */
  publish<T>(event: NewBusEvent<T>, opts?: CallOptions): Promise<string>;
  /** Events of the family after the cursor, oldest first. */
  read(family: EventFamily, opts?: ReadOptions): Promise<BusEvent[]>;
  /**
   * The id of the family's newest event ("0-0" when it has none): a List RPC returns it so that a
   * client can Watch from it and miss nothing between the two calls.
   */
  lastEventId(family: EventFamily, opts?: CallOptions): Promise<string>;
  /** Replays after the cursor then follows live, without gaps or duplicates, until aborted. */
  subscribe(family: EventFamily, opts: SubscribeOptions): AsyncIterable<BusEvent>;
}

/** The coordination ports of one backend. */
export interface Coordination {
  readonly leases: LeaseManager;
  readonly ports: PortLeases;
  readonly counters: Counters;
  readonly bus: EventBus;
}
