import { describe, expect, it } from "vitest";
import {
  assertPolicyConfig,
  contractPolicyLimits,
  defaultPolicyBounds,
  defaultPolicyValues,
  formatDuration,
  PolicyConfigError,
  PolicyOutOfBoundsError,
  policyFromRecord,
  policyToRecord,
  resolvePolicy,
} from "./policy.js";

const min = 60_000;
const hour = 60 * min;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("policy", () => {
  describe("defaults", () => {
    it("are 5 min, 30 min, 15 min, 12 h, 10 min and EXISTING, within the default bounds", () => {
      expect(defaultPolicyValues).toEqual({
        connectDeadlineMs: 5 * min,
        idleTimeoutMs: 30 * min,
        disconnectedLimitMs: 15 * min,
        maxDurationMs: 12 * hour,
        keepaliveTimeoutMs: 10 * min,
        reuse: "EXISTING",
      });
      expect(() => assertPolicyConfig(defaultPolicyValues, defaultPolicyBounds)).not.toThrow();
      expect(() => assertPolicyConfig(defaultPolicyValues, contractPolicyLimits)).not.toThrow();
    });
  });

  describe("resolvePolicy()", () => {
    it("takes the defaults when nothing is overridden", () => {
      expect(resolvePolicy({}, defaultPolicyValues, defaultPolicyBounds)).toEqual(
        defaultPolicyValues,
      );
    });

    it("takes overrides within the bounds, ends included", () => {
      const policy = resolvePolicy(
        { idleTimeoutMs: 24 * hour, connectDeadlineMs: 10_000, reuse: "NEVER" },
        defaultPolicyValues,
        defaultPolicyBounds,
      );
      expect(policy).toEqual({
        ...defaultPolicyValues,
        idleTimeoutMs: 24 * hour,
        connectDeadlineMs: 10_000,
        reuse: "NEVER",
      });
    });

    it("refuses an override below its bound, naming the field and the bound", () => {
      const e = thrown(() =>
        resolvePolicy({ idleTimeoutMs: 30_000 }, defaultPolicyValues, defaultPolicyBounds),
      ) as PolicyOutOfBoundsError;
      expect(e).toBeInstanceOf(PolicyOutOfBoundsError);
      expect(e.message).toBe("policy.idle_timeout must be at least 1m, got 30s");
      expect([e.field, e.bound, e.limitMs, e.valueMs]).toEqual([
        "policy.idle_timeout",
        "min",
        min,
        30_000,
      ]);
    });

    it("refuses an override above its bound, naming every field by its contract name", () => {
      const cases = [
        ["connectDeadlineMs", "policy.connect_deadline", "1h"],
        ["idleTimeoutMs", "policy.idle_timeout", "1d"],
        ["disconnectedLimitMs", "policy.disconnected_limit", "7d"],
        ["maxDurationMs", "policy.max_duration", "7d"],
        ["keepaliveTimeoutMs", "policy.keepalive_timeout", "1d"],
      ] as const;
      for (const [field, name, bound] of cases) {
        const value = defaultPolicyBounds[field].maxMs + 1;
        const e = thrown(() =>
          resolvePolicy({ [field]: value }, defaultPolicyValues, defaultPolicyBounds),
        ) as PolicyOutOfBoundsError;
        expect(e, field).toBeInstanceOf(PolicyOutOfBoundsError);
        expect(e.field).toBe(name);
        expect(e.bound).toBe("max");
        expect(e.message).toBe(`${name} must be at most ${bound}, got ${formatDuration(value)}`);
      }
    });

    it("uses the bounds it is given", () => {
      const bounds = { ...defaultPolicyBounds, idleTimeoutMs: { minMs: 1_000, maxMs: 2_000 } };
      const defaults = { ...defaultPolicyValues, idleTimeoutMs: 1_500 };
      expect(resolvePolicy({ idleTimeoutMs: 1_000 }, defaults, bounds).idleTimeoutMs).toBe(1_000);
      expect(() => resolvePolicy({ idleTimeoutMs: 2_001 }, defaults, bounds)).toThrow(
        "policy.idle_timeout must be at most 2s, got 2s1ms",
      );
    });

    it("refuses a length that is not whole milliseconds as a programming error", () => {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1.5]) {
        expect(() =>
          resolvePolicy({ idleTimeoutMs: bad }, defaultPolicyValues, defaultPolicyBounds),
        ).toThrow(RangeError);
      }
    });
  });

  describe("assertPolicyConfig()", () => {
    it("refuses a default outside its bounds, naming the field", () => {
      const e = thrown(() =>
        assertPolicyConfig(
          { ...defaultPolicyValues, maxDurationMs: 8 * 24 * hour },
          defaultPolicyBounds,
        ),
      ) as PolicyConfigError;
      expect(e).toBeInstanceOf(PolicyConfigError);
      expect(e.field).toBe("maxDurationMs");
      expect(e.message).toBe("policy.max_duration: default 8d lies outside its bounds 5m..7d");
    });

    it("refuses bounds that are not a range or exceed the contract", () => {
      expect(() =>
        assertPolicyConfig(defaultPolicyValues, {
          ...defaultPolicyBounds,
          idleTimeoutMs: { minMs: 2 * hour, maxMs: hour },
        }),
      ).toThrow("policy.idle_timeout: bounds");
      expect(() =>
        assertPolicyConfig(defaultPolicyValues, {
          ...defaultPolicyBounds,
          keepaliveTimeoutMs: { minMs: 1_000, maxMs: 2 * 24 * hour },
        }),
      ).toThrow("policy.keepalive_timeout: bounds 1s..2d exceed what the contract allows, 1s..1d");
      expect(() =>
        assertPolicyConfig(defaultPolicyValues, {
          ...defaultPolicyBounds,
          connectDeadlineMs: { minMs: 500, maxMs: hour },
        }),
      ).toThrow(PolicyConfigError);
    });
  });

  describe("policyToRecord() and policyFromRecord()", () => {
    it("round-trip a policy through the record fields", () => {
      const values = {
        ...defaultPolicyValues,
        idleTimeoutMs: 2 * hour,
        reuse: "DISCONNECTED" as const,
      };
      const stored = policyToRecord(values);
      expect(stored.reusePolicy).toBe("DISCONNECTED");
      expect(stored.policy).not.toHaveProperty("reuse");
      expect(policyFromRecord(stored, defaultPolicyValues)).toEqual(values);
    });

    it("fills what an older record lacks from the defaults", () => {
      expect(policyFromRecord({ policy: { idleTimeoutMs: 5_000 } }, defaultPolicyValues)).toEqual({
        ...defaultPolicyValues,
        idleTimeoutMs: 5_000,
      });
    });
  });

  describe("formatDuration()", () => {
    it("writes durations compactly", () => {
      expect(formatDuration(0)).toBe("0s");
      expect(formatDuration(1_500)).toBe("1s500ms");
      expect(formatDuration(90 * min)).toBe("1h30m");
      expect(formatDuration(12 * hour)).toBe("12h");
      expect(formatDuration(250)).toBe("250ms");
    });
  });
});
