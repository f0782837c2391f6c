import { describe, expect, it } from "vitest";
import { clock, niceStep, timeTicks, valueTicks } from "./chart-scale.js";

describe("chart-scale", () => {
  describe("niceStep()", () => {
    it("picks 1, 2, 2.5 or 5 times a power of ten", () => {
      expect(niceStep(100, 4)).toBe(25);
      expect(niceStep(7, 4)).toBe(2);
      expect(niceStep(0.3, 3)).toBe(0.1);
      expect(niceStep(3_000_000, 4)).toBe(1_000_000);
      expect(niceStep(0, 4)).toBe(1);
    });
  });

  describe("valueTicks()", () => {
    it("ticks 0-100 % in quarters", () => {
      const { top, ticks } = valueTicks(100, 4, (v) => `${v}%`);
      expect(top).toBe(100);
      expect(ticks.map((t) => t.label)).toEqual(["0%", "25%", "50%", "75%", "100%"]);
    });
    it("rounds the top up to a whole step", () => {
      const { top, ticks } = valueTicks(7.3, 4, String);
      expect(top).toBe(8);
      expect(ticks.map((t) => t.at)).toEqual([0, 2, 4, 6, 8]);
    });
    it("keeps one step when everything is 0", () => {
      expect(valueTicks(0, 4, String).top).toBe(1);
    });
  });

  describe("timeTicks()", () => {
    const t0 = new Date(2026, 0, 2, 12, 0, 7).getTime();
    it("puts at most `count` ticks on round steps, with seconds below a minute", () => {
      const ticks = timeTicks(t0, t0 + 120_000, 4);
      expect(ticks.map((t) => t.label)).toEqual(["12:00:30", "12:01:00", "12:01:30", "12:02:00"]);
    });
    it("drops the seconds on minute steps", () => {
      const ticks = timeTicks(t0, t0 + 3_600_000, 4);
      expect(ticks[0]?.label).toBe("12:15");
      expect(ticks.every((t) => /^\d\d:\d\d$/.test(t.label))).toBe(true);
      expect(ticks.length).toBeLessThanOrEqual(4);
    });
    it("gives one tick for an empty span", () => {
      expect(timeTicks(t0, t0, 4)).toEqual([{ at: t0, label: clock(t0) }]);
    });
  });
});
