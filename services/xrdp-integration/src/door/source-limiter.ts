/**
 * The door's connect limits per source (see source-key.ts), checked when a connection arrives,
 * before any of its bytes is read: a token bucket of connection attempts, and caps on connections
 * still sending their first packet, per source and overall. Written here rather than taken from a
 * rate-limit package: those count requests per key on a timer or a store; the door needs an
 * in-process bucket plus "pending" counts released by the caller, in a map kept bounded.
 */
import type { Clock } from "@lucid-rdp/runtime";

/** The limits a {@link SourceLimiter} enforces. */
export interface SourceLimits {
  /** Connection attempts a source may make per minute, sustained. */
  readonly ratePerMinute: number;
  /** Attempts a source may make at once before the rate applies. */
  readonly burst: number;
  /** Connections of one source that may be sending their first packet at once. */
  readonly maxPendingPerSource: number;
  /** Connections of all sources that may be sending their first packet at once. */
  readonly maxPending: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in ms. */
  at: number;
  pending: number;
  /** When a refusal of this source was last logged, in ms; -Infinity if never. */
  loggedAt: number;
}

/** The verdict on one arriving connection. */
export type Admission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly why: "rate" | "pending"; readonly log: boolean };

/** Sources remembered at most; the least recently seen beyond that are forgotten. */
export const maxTrackedSources = 10_000;

/** Token buckets and pending counts per source, bounded in memory. */
export class SourceLimiter {
  readonly #limits: SourceLimits;
  readonly #clock: Clock;
  /** Least recently seen first (a Map keeps insertion order; a touch re-inserts). */
  readonly #buckets = new Map<string, Bucket>();
  #pending = 0;

  constructor(limits: SourceLimits, clock: Clock) {
    this.#limits = limits;
    this.#clock = clock;
  }

  /** Connections sending their first packet now, all sources. */
  get pending(): number {
    return this.#pending;
  }

  /** Sources remembered now (for tests: the map stays bounded). */
  get trackedSources(): number {
    return this.#buckets.size;
  }

  /**
   * Admits one connection of `source` (takes a token and a pending slot; call `release` once its
   * first packet was read or it ended), or says why not and whether that refusal should be logged
   * (at most once per source per minute).
   */
  admit(source: string): Admission {
    const now = this.#clock().getTime();
    const bucket = this.#touch(source, now);
    let why: "rate" | "pending" | undefined;
    if (bucket.tokens < 1) why = "rate";
    else if (
      bucket.pending >= this.#limits.maxPendingPerSource ||
      this.#pending >= this.#limits.maxPending
    ) {
      why = "pending";
    }
    if (why !== undefined) {
      const log = now - bucket.loggedAt >= 60_000;
      if (log) bucket.loggedAt = now;
      return { ok: false, why, log };
    }
    bucket.tokens -= 1;
    bucket.pending++;
    this.#pending++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        bucket.pending--;
        this.#pending--;
      },
    };
  }

  /** The source's bucket, refilled up to now and moved to the most recently seen end. */
  #touch(source: string, now: number): Bucket {
    const { ratePerMinute, burst } = this.#limits;
    let bucket = this.#buckets.get(source);
    if (bucket === undefined) {
      bucket = { tokens: burst, at: now, pending: 0, loggedAt: Number.NEGATIVE_INFINITY };
    } else {
      this.#buckets.delete(source);
      const elapsed = Math.max(0, now - bucket.at);
      bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * ratePerMinute) / 60_000);
      bucket.at = now;
    }
    this.#buckets.set(source, bucket);
    if (this.#buckets.size > maxTrackedSources) this.#forget(now);
    return bucket;
  }

  /**
   * Forgets the least recently seen sources down to 90% of the bound (so that a flood of new
   * sources pays for a sweep once per thousand, not on every connection): first those whose bucket
   * is full again (forgetting them changes nothing), then the oldest ones regardless. A source
   * with connections pending keeps its entry only if it is among the recent ones; its `release`
   * still works on the detached bucket.
   */
  #forget(now: number): void {
    const { ratePerMinute, burst } = this.#limits;
    const fullAfterMs = (burst * 60_000) / ratePerMinute;
    for (const [key, b] of this.#buckets) {
      if (this.#buckets.size <= maxTrackedSources * 0.9) return;
      if (b.pending === 0 && now - b.at >= fullAfterMs) this.#buckets.delete(key);
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= maxTrackedSources * 0.9) return;
      this.#buckets.delete(key);
    }
  }
}
