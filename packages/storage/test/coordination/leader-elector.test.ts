/**
 * LeaderElector over the memory lease manager, on vitest's fake timers: terms, renewals and
 * hand-overs are driven by advancing the clock, never by sleeping. (Its hand-over on real Redis is
 * in redis.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  LeaderElector,
  type Lease,
  type LeaseManager,
  MemoryLeaseManager,
} from "../../src/coordination/index.js";
import { BackendUnavailableError } from "../../src/errors.js";

interface Term {
  readonly lease: Lease;
  readonly signal: AbortSignal;
}

/** A lease manager whose renewals can be made to fail, as when the lease was lost or Redis is down. */
class FlakyLeases implements LeaseManager {
  renewal: "ok" | "refused" | "unavailable" = "ok";
  constructor(private readonly inner: LeaseManager) {}
  acquire(name: string, ttlMs: number) {
    return this.inner.acquire(name, ttlMs);
  }
  async renew(lease: Lease, ttlMs: number) {
    if (this.renewal === "refused") return false;
    if (this.renewal === "unavailable") throw new BackendUnavailableError("redis");
    return this.inner.renew(lease, ttlMs);
  }
  release(lease: Lease) {
    return this.inner.release(lease);
  }
  isCurrent(lease: Lease) {
    return this.inner.isCurrent(lease);
  }
  assertCurrent(lease: Lease) {
    return this.inner.assertCurrent(lease);
  }
}

describe("LeaderElector", () => {
  let leases: MemoryLeaseManager;
  let flaky: FlakyLeases;
  let stop: AbortController;
  let terms: Term[];
  let errors: unknown[];

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    leases = new MemoryLeaseManager({ now: () => Date.now() });
    flaky = new FlakyLeases(leases);
    stop = new AbortController();
    terms = [];
    errors = [];
  });
  afterEach(() => {
    stop.abort();
    vi.useRealTimers();
  });

  /** Campaigns for "reaper" with a 1 s TTL, renewing every 300 ms, retrying every 100 ms. */
  function campaign(
    onElected: (lease: Lease, signal: AbortSignal) => Promise<void> | void = () => {},
  ) {
    return new LeaderElector(flaky).runAsLeader("reaper", {
      ttlMs: 1_000,
      renewEveryMs: 300,
      retryEveryMs: 100,
      signal: stop.signal,
      onError: (err) => errors.push(err),
      onElected: (lease, signal) => {
        terms.push({ lease, signal });
        return onElected(lease, signal);
      },
    });
  }

  describe("runAsLeader()", () => {
    it("is elected when the lease is free, keeps it by renewing, and releases it on stop", async () => {
      const running = campaign();
      await vi.advanceTimersByTimeAsync(0);
      expect(terms).toHaveLength(1);
      const [term] = terms;

      // Far past the TTL: still the leader, because it renews.
      await vi.advanceTimersByTimeAsync(10_000);
      expect(terms).toHaveLength(1);
      expect(term!.signal.aborted).toBe(false);
      expect(await leases.isCurrent(term!.lease)).toBe(true);
      expect(await leases.acquire("reaper", 1_000)).toBeUndefined();

      stop.abort();
      await running;
      expect(term!.signal.aborted).toBe(true);
      expect(await leases.isCurrent(term!.lease)).toBe(false);
      expect(await leases.acquire("reaper", 1_000)).toBeDefined();
      expect(errors).toEqual([]);
    });

    it("waits while another holds the lease and is elected once it expires", async () => {
      const other = await leases.acquire("reaper", 1_000);
      const running = campaign();
      await vi.advanceTimersByTimeAsync(900);
      expect(terms).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(200);
      expect(terms).toHaveLength(1);
      expect(terms[0]!.lease.fence).toBeGreaterThan(other!.fence);
      stop.abort();
      await running;
    });

    it("aborts the work's signal when a renewal is refused, then campaigns again", async () => {
      const running = campaign();
      await vi.advanceTimersByTimeAsync(0);
      flaky.renewal = "refused";
      await vi.advanceTimersByTimeAsync(300);
      expect(terms[0]!.signal.aborted).toBe(true);

      flaky.renewal = "ok";
      await vi.advanceTimersByTimeAsync(100);
      expect(terms).toHaveLength(2);
      expect(terms[1]!.lease.fence).toBeGreaterThan(terms[0]!.lease.fence);
      expect(terms[1]!.signal.aborted).toBe(false);
      stop.abort();
      await running;
    });

    it("steps down when a renewal fails because the backend is unavailable", async () => {
      const running = campaign();
      await vi.advanceTimersByTimeAsync(0);
      flaky.renewal = "unavailable";
      await vi.advanceTimersByTimeAsync(300);
      expect(terms[0]!.signal.aborted).toBe(true);
      expect(errors[0]).toBeInstanceOf(BackendUnavailableError);
      stop.abort();
      await running;
    });

    it("ends the term when the work fails, reports the error and releases the lease", async () => {
      const failure = new Error("reaper crashed");
      let calls = 0;
      const running = campaign(async () => {
        calls++;
        if (calls === 1) throw failure;
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(terms[0]!.signal.aborted).toBe(true);
      expect(errors).toEqual([failure]);
      expect(await leases.isCurrent(terms[0]!.lease)).toBe(false);

      await vi.advanceTimersByTimeAsync(100);
      expect(terms).toHaveLength(2);
      stop.abort();
      await running;
    });

    it("releases only after the work has stopped", async () => {
      let finishWork = () => {};
      const running = campaign(
        (_lease, signal) =>
          new Promise<void>((resolve) => {
            signal.addEventListener("abort", () => {
              finishWork = resolve;
            });
          }),
      );
      await vi.advanceTimersByTimeAsync(0);
      stop.abort();
      await vi.advanceTimersByTimeAsync(0);
      // The work saw the abort but is still winding down: the lease is still held.
      expect(terms[0]!.signal.aborted).toBe(true);
      expect(await leases.isCurrent(terms[0]!.lease)).toBe(true);
      finishWork();
      await running;
      expect(await leases.isCurrent(terms[0]!.lease)).toBe(false);
    });

    it("returns at once for an aborted signal", async () => {
      stop.abort();
      await campaign();
      expect(terms).toEqual([]);
    });
  });
});
