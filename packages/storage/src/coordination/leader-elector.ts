/**
 * Leader election over any `LeaseManager`: a singleton loop (reaper, timers) runs on one replica
 * at a time. The elector keeps trying to take the lease; while it holds it, it renews it and runs
 * the caller's work with a signal that aborts as soon as leadership may be lost.
 */
import type { Lease, LeaseManager } from "./ports.js";

export interface RunAsLeaderOptions {
  /** The lease's time-to-live; a crashed leader is replaced after at most this long. */
  readonly ttlMs: number;
  /** How often the leader renews; well below ttlMs. @default ttlMs / 3 */
  readonly renewEveryMs?: number;
  /** How often a follower tries to take the lease. @default renewEveryMs */
  readonly retryEveryMs?: number;
  /**
   * Starts the leader's work. `signal` aborts when leadership ends (a renewal failed or was refused,
   * or `signal` of these options aborted); the work must stop then. Write with `lease.fence`. The
   * lease is released once the returned promise settles; a rejection ends this term of leadership
   * and is reported to `onError`.
   */
  readonly onElected: (lease: Lease, signal: AbortSignal) => Promise<void> | void;
  /** Errors of the work and of the backend (a failed acquire is retried). @default ignored */
  readonly onError?: (err: unknown) => void;
  /** Stops running for leader; resolves `runAsLeader` after the lease is released. */
  readonly signal: AbortSignal;
}

/** Timers, replaceable in tests; by default the global ones (which vitest's fake timers drive). */
export interface ElectorTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const globalTimers: ElectorTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface LeaderElectorOptions {
  /** @default the global setTimeout / clearTimeout */
  readonly timers?: ElectorTimers;
}

/** Runs work as the single leader of a name, over a `LeaseManager`. */
export class LeaderElector {
  private readonly timers: ElectorTimers;

  constructor(
    private readonly leases: LeaseManager,
    opts: LeaderElectorOptions = {},
  ) {
    this.timers = opts.timers ?? globalTimers;
  }

  /**
   * Campaigns for `name` until `opts.signal` aborts: acquires when free, renews while leader, and
   * runs `onElected` for each term. Resolves once stopped and the lease (if held) is released.
   */
  async runAsLeader(name: string, opts: RunAsLeaderOptions): Promise<void> {
    const renewEveryMs = opts.renewEveryMs ?? Math.max(1, Math.floor(opts.ttlMs / 3));
    const retryEveryMs = opts.retryEveryMs ?? renewEveryMs;
    const { signal } = opts;
    while (!signal.aborted) {
      let lease: Lease | undefined;
      try {
        lease = await this.leases.acquire(name, opts.ttlMs, { signal });
      } catch (err) {
        if (signal.aborted) break;
        opts.onError?.(err);
      }
      if (lease) await this.term(lease, renewEveryMs, opts);
      if (!signal.aborted) await this.sleep(retryEveryMs, signal);
    }
  }

  /** One term of leadership: run the work, renew until refused or stopped, then release. */
  private async term(lease: Lease, renewEveryMs: number, opts: RunAsLeaderOptions): Promise<void> {
    const term = new AbortController();
    const stop = () => term.abort(opts.signal.reason);
    opts.signal.addEventListener("abort", stop, { once: true });
    const renewing = this.renewUntilLost(lease, renewEveryMs, opts, term);
    try {
      await opts.onElected(lease, term.signal);
    } catch (err) {
      if (!term.signal.aborted) opts.onError?.(err);
      term.abort(err);
    }
    // Work that returned early keeps leadership: the term lasts until renewal fails or stop.
    await renewing;
    opts.signal.removeEventListener("abort", stop);
    try {
      await this.leases.release(lease);
    } catch (err) {
      // The lease lapses at its TTL anyway.
      opts.onError?.(err);
    }
  }

  private async renewUntilLost(
    lease: Lease,
    renewEveryMs: number,
    opts: RunAsLeaderOptions,
    term: AbortController,
  ): Promise<void> {
    while (!term.signal.aborted) {
      await this.sleep(renewEveryMs, term.signal);
      if (term.signal.aborted) return;
      let renewed = false;
      try {
        renewed = await this.leases.renew(lease, opts.ttlMs, { signal: term.signal });
      } catch (err) {
        if (term.signal.aborted) return;
        // Unknown whether the lease still holds: step down rather than risk two leaders.
        opts.onError?.(err);
      }
      if (!renewed) term.abort(new Error(`leadership of ${lease.name} lost`));
    }
  }

  /** Resolves after `ms`, or at once when the signal aborts. */
  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = () => {
        this.timers.clearTimeout(handle);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const handle = this.timers.setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
