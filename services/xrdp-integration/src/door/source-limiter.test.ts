import { describe, expect, it } from "vitest";
import { maxTrackedSources, SourceLimiter } from "./source-limiter.js";

const limits = { ratePerMinute: 30, burst: 10, maxPendingPerSource: 8, maxPending: 256 };

/** Admits and at once releases (a connection whose first packet came): only the rate counts. */
function attempt(limiter: SourceLimiter, source: string) {
  const a = limiter.admit(source);
  if (a.ok) a.release();
  return a;
}

describe("SourceLimiter", () => {
  describe("admit()", () => {
    it("allows the burst, then one attempt per 2 s at 30 a minute", () => {
      let now = 0;
      const limiter = new SourceLimiter(limits, () => new Date(now));
      for (let i = 0; i < 10; i++) expect(attempt(limiter, "a").ok).toBe(true);
      expect(attempt(limiter, "a")).toMatchObject({ ok: false, why: "rate", log: true });
      expect(attempt(limiter, "a")).toMatchObject({ ok: false, why: "rate", log: false });
      expect(attempt(limiter, "b").ok).toBe(true);
      now += 2_000;
      expect(attempt(limiter, "a").ok).toBe(true);
      expect(attempt(limiter, "a").ok).toBe(false);
      now += 60_000;
      // Logged again after a minute.
      for (let i = 0; i < 10; i++) attempt(limiter, "a");
      expect(attempt(limiter, "a")).toMatchObject({ ok: false, log: true });
    });

    it("caps pending per source and overall until released", () => {
      const limiter = new SourceLimiter(
        { ...limits, maxPendingPerSource: 1, maxPending: 2 },
        () => new Date(0),
      );
      const first = limiter.admit("a");
      expect(limiter.admit("a")).toMatchObject({ ok: false, why: "pending" });
      expect(limiter.admit("b").ok).toBe(true);
      expect(limiter.admit("c")).toMatchObject({ ok: false, why: "pending" });
      if (first.ok) {
        first.release();
        first.release(); // idempotent
      }
      expect(limiter.pending).toBe(1);
      expect(limiter.admit("c").ok).toBe(true);
    });

    it("forgets sources beyond its bound", () => {
      let now = 0;
      const limiter = new SourceLimiter(limits, () => new Date(now));
      for (let i = 0; i < maxTrackedSources * 2; i++) {
        now += 1;
        attempt(limiter, `s${i}`);
      }
      expect(limiter.trackedSources).toBeLessThanOrEqual(maxTrackedSources);
    });
  });
});
