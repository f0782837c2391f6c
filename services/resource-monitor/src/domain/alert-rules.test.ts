import { describe, expect, it } from "vitest";
import {
  type AlertRuleInput,
  compare,
  type MatcherInput,
  matchesSelector,
  RuleValidationError,
  ruleEtag,
  ruleMatchers,
  validateRule,
} from "./alert-rules.js";
import type { AlertLabelMatcher } from "./alert-values.js";

const rule = (over: Partial<AlertRuleInput> = {}): AlertRuleInput => ({
  name: "disk almost full",
  metric: "host_filesystem_used_percent",
  matchers: [{ name: "mount_point", operator: "EQUAL", value: "/" }],
  comparison: "GT",
  threshold: 90,
  forMs: 5 * 60_000,
  severity: "WARNING",
  labels: { team: "ops" },
  summary: "The root filesystem is filling up.",
  ...over,
});

/** The field validateRule names for `input`, or "valid". */
function rejected(input: AlertRuleInput): string {
  try {
    validateRule(input);
    return "valid";
  } catch (e) {
    expect(e).toBeInstanceOf(RuleValidationError);
    return (e as RuleValidationError).field;
  }
}

const m = (name: string, operator: string, value: string): MatcherInput => ({
  name,
  operator,
  value,
});

describe("validateRule()", () => {
  it("accepts a rule within every limit", () => {
    expect(rejected(rule())).toBe("valid");
    expect(rejected(rule({ matchers: [], forMs: 0, threshold: -1.5, summary: undefined }))).toBe(
      "valid",
    );
    expect(rejected(rule({ metric: "host_load1", matchers: [] }))).toBe("valid");
    expect(rejected(rule({ forMs: 24 * 3_600_000 }))).toBe("valid");
  });

  it("rejects an unknown or missing metric, naming alert_rule.metric", () => {
    expect(rejected(rule({ metric: "host_cpu_ratio" }))).toBe("alert_rule.metric");
    expect(rejected(rule({ metric: "" }))).toBe("alert_rule.metric");
    expect(rejected(rule({ metric: "__proto__" }))).toBe("alert_rule.metric");
  });

  it("rejects a negative or over-long `for`, naming alert_rule.for_duration", () => {
    expect(rejected(rule({ forMs: -1 }))).toBe("alert_rule.for_duration");
    expect(rejected(rule({ forMs: 24 * 3_600_000 + 1 }))).toBe("alert_rule.for_duration");
    expect(rejected(rule({ forMs: Number.NaN }))).toBe("alert_rule.for_duration");
  });

  it("rejects a NaN or infinite threshold, naming alert_rule.threshold", () => {
    expect(rejected(rule({ threshold: Number.NaN }))).toBe("alert_rule.threshold");
    expect(rejected(rule({ threshold: Number.POSITIVE_INFINITY }))).toBe("alert_rule.threshold");
    expect(rejected(rule({ threshold: Number.NEGATIVE_INFINITY }))).toBe("alert_rule.threshold");
  });

  it("rejects more than 16 matchers, naming alert_rule.selector", () => {
    const many = Array.from({ length: 17 }, (_, i) => m("device", "NOT_EQUAL", `sd${i}`));
    expect(rejected(rule({ matchers: many }))).toBe("alert_rule.selector");
    expect(rejected(rule({ matchers: many.slice(0, 16) }))).toBe("valid");
  });

  it("rejects a label the metric does not have, naming the matcher", () => {
    expect(rejected(rule({ matchers: [m("mount", "EQUAL", "/")] }))).toBe(
      "alert_rule.selector[0].name",
    );
    expect(
      rejected(rule({ metric: "host_cpu_usage_percent", matchers: [m("cpu", "EQUAL", "0")] })),
    ).toBe("alert_rule.selector[0].name");
    expect(
      rejected(
        rule({
          metric: "server_cpu_percent",
          matchers: [m("server_id", "EQUAL", "a"), m("node", "EQUAL", "n")],
        }),
      ),
    ).toBe("alert_rule.selector[1].name");
    expect(rejected(rule({ matchers: [m("Mount_Point", "EQUAL", "/")] }))).toBe(
      "alert_rule.selector[0].name",
    );
  });

  it("checks the selector of old records too (their `selector` map)", () => {
    expect(rejected(rule({ matchers: undefined, selector: { mount_point: "/" } }))).toBe("valid");
    expect(rejected(rule({ matchers: undefined, selector: { node: "n1" } }))).toBe(
      "alert_rule.selector[0].name",
    );
  });

  it("rejects an unknown operator and a value outside the contract's pattern", () => {
    expect(rejected(rule({ matchers: [m("mount_point", "UNSPECIFIED", "/")] }))).toBe(
      "alert_rule.selector[0].operator",
    );
    expect(rejected(rule({ matchers: [m("mount_point", "EQUAL", "/ home")] }))).toBe(
      "alert_rule.selector[0].value",
    );
    expect(rejected(rule({ matchers: [m("mount_point", "EQUAL", "x".repeat(129))] }))).toBe(
      "alert_rule.selector[0].value",
    );
  });

  it("rejects an invalid or non-RE2 regex, naming its value", () => {
    for (const bad of ["(", "[a-", "(?=sd)sda", "(a)\\1", "a)|(b"]) {
      expect(rejected(rule({ matchers: [m("mount_point", "REGEX", bad)] })), bad).toBe(
        "alert_rule.selector[0].value",
      );
    }
    expect(rejected(rule({ matchers: [m("device", "NOT_REGEX", "(")] }))).toBe(
      "alert_rule.selector[0].value",
    );
  });

  it("matches in linear time: patterns that hang a backtracking engine answer at once", () => {
    // Each held JavaScript's own engine for seconds, or for good, on a value like this (issue 17).
    const value = "x".repeat(128);
    const one = (operator: "REGEX" | "NOT_REGEX", v: string): AlertLabelMatcher[] => [
      { name: "mount_point", operator, value: v },
    ];
    for (const hard of ["[^x].*|(x|x)*y", "x{70}(x|x)*y", "[^x].*|x*x*x*x*x*x*y", "(x+)+y"]) {
      expect(rejected(rule({ matchers: [m("mount_point", "REGEX", hard)] })), hard).toBe("valid");
      // The verdicts, not the time, are asserted: a backtracking engine never returns from these.
      expect(matchesSelector({ mount_point: value }, one("REGEX", hard))).toBe(false);
      expect(matchesSelector({ mount_point: value }, one("NOT_REGEX", hard))).toBe(true);
    }
    expect(matchesSelector({ mount_point: "sda" }, one("REGEX", "sd."))).toBe(true);
    expect(matchesSelector({ mount_point: "sda1" }, one("REGEX", "sd."))).toBe(false);
  });

  it("rejects a regex matching everything without an EQUAL matcher as unbounded", () => {
    for (const all of [".*", ".+", "\\S*", "(?:sda|.*)", ".{0,}"]) {
      expect(rejected(rule({ matchers: [m("mount_point", "REGEX", all)] })), all).toBe(
        "alert_rule.selector",
      );
    }
    expect(
      rejected(
        rule({ matchers: [m("device", "REGEX", ".*"), m("fs_type", "NOT_EQUAL", "tmpfs")] }),
      ),
    ).toBe("alert_rule.selector");
    // bounded: an equality matcher beside it, or a regex that does not match every value
    expect(
      rejected(rule({ matchers: [m("device", "REGEX", ".*"), m("mount_point", "EQUAL", "/")] })),
    ).toBe("valid");
    expect(rejected(rule({ matchers: [m("device", "REGEX", "sd.*")] }))).toBe("valid");
    expect(rejected(rule({ matchers: [m("device", "NOT_REGEX", ".*")] }))).toBe("valid");
    // anchored, the empty regex matches only a missing label: it selects nothing, not everything
    expect(rejected(rule({ matchers: [m("device", "REGEX", "")] }))).toBe("valid");
  });

  it("rejects what else the proto's comments rule out, naming each field", () => {
    expect(rejected(rule({ name: "" }))).toBe("alert_rule.display_name");
    expect(rejected(rule({ name: "x".repeat(129) }))).toBe("alert_rule.display_name");
    expect(rejected(rule({ name: "a\nb" }))).toBe("alert_rule.display_name");
    expect(rejected(rule({ comparison: "UNSPECIFIED" }))).toBe("alert_rule.comparison");
    expect(rejected(rule({ severity: "PAGE" }))).toBe("alert_rule.severity");
    expect(rejected(rule({ labels: { Team: "ops" } }))).toBe('alert_rule.labels["Team"]');
    expect(rejected(rule({ labels: { team: "o p s" } }))).toBe('alert_rule.labels["team"]');
    const labels = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, "v"]));
    expect(rejected(rule({ labels }))).toBe("alert_rule.labels");
    expect(rejected(rule({ summary: "x".repeat(513) }))).toBe("alert_rule.summary");
    expect(rejected(rule({ summary: "tab\there" }))).toBe("alert_rule.summary");
  });

  it("refuses C0, DEL and C1 control characters (U+0085, U+009B) in names and summaries", () => {
    for (const c of ["\u0000", "\u001b", "\u007f", "\u0080", "\u0085", "\u009b", "\u009f"]) {
      expect(rejected(rule({ name: `a${c}b` }))).toBe("alert_rule.display_name");
      expect(rejected(rule({ summary: `a${c}b` }))).toBe("alert_rule.summary");
    }
    expect(rejected(rule({ name: "café \u00a0 ü" }))).toBe("valid");
  });

  it("says which field and why in the message", () => {
    expect(() => validateRule(rule({ threshold: Number.NaN }))).toThrow(
      /^alert_rule\.threshold: must be a finite/,
    );
  });
});

describe("matchesSelector()", () => {
  const disk = { mount_point: "/var/lib", device: "sda1", fs_type: "ext4" };
  const sel = (...matchers: AlertLabelMatcher[]) => matchesSelector(disk, matchers);

  it("matches every series with an empty selector", () => {
    expect(sel()).toBe(true);
  });

  it("compares equality and inequality exactly", () => {
    expect(sel({ name: "device", operator: "EQUAL", value: "sda1" })).toBe(true);
    expect(sel({ name: "device", operator: "EQUAL", value: "sda" })).toBe(false);
    expect(sel({ name: "device", operator: "NOT_EQUAL", value: "sda" })).toBe(true);
    expect(sel({ name: "device", operator: "NOT_EQUAL", value: "sda1" })).toBe(false);
  });

  it("needs every matcher to hold", () => {
    expect(
      sel(
        { name: "device", operator: "EQUAL", value: "sda1" },
        { name: "fs_type", operator: "EQUAL", value: "xfs" },
      ),
    ).toBe(false);
  });

  it("anchors regexes at both ends, like Prometheus", () => {
    expect(sel({ name: "device", operator: "REGEX", value: "sd." })).toBe(false);
    expect(sel({ name: "device", operator: "REGEX", value: "sd.1" })).toBe(true);
    expect(sel({ name: "device", operator: "REGEX", value: "da1" })).toBe(false);
    expect(sel({ name: "device", operator: "REGEX", value: "sda1|nvme.*" })).toBe(true);
    expect(sel({ name: "mount_point", operator: "REGEX", value: "/var" })).toBe(false);
    expect(sel({ name: "device", operator: "NOT_REGEX", value: "sd." })).toBe(true);
    expect(sel({ name: "device", operator: "NOT_REGEX", value: "sd.*" })).toBe(false);
  });

  it("reads a missing label as the empty string", () => {
    expect(sel({ name: "interface", operator: "EQUAL", value: "" })).toBe(true);
    expect(sel({ name: "interface", operator: "NOT_EQUAL", value: "eth0" })).toBe(true);
    expect(sel({ name: "interface", operator: "REGEX", value: "eth.*" })).toBe(false);
  });

  it("matches nothing with a regex that does not compile", () => {
    expect(sel({ name: "device", operator: "REGEX", value: "(" })).toBe(false);
    expect(sel({ name: "device", operator: "NOT_REGEX", value: "(" })).toBe(false);
  });
});

describe("ruleMatchers()", () => {
  it("prefers `matchers` and reads the old `selector` map as sorted equality matchers", () => {
    const matchers: AlertLabelMatcher[] = [
      { name: "device", operator: "NOT_EQUAL", value: "loop0" },
    ];
    expect(ruleMatchers({ matchers, selector: { device: "sda" } })).toBe(matchers);
    expect(ruleMatchers({ selector: { server_id: "s", node_id: "n" } })).toEqual([
      { name: "node_id", operator: "EQUAL", value: "n" },
      { name: "server_id", operator: "EQUAL", value: "s" },
    ]);
  });
});

describe("compare()", () => {
  it("applies each comparison", () => {
    expect([compare(2, "GT", 1), compare(1, "GT", 1)]).toEqual([true, false]);
    expect([compare(1, "GTE", 1), compare(0, "GTE", 1)]).toEqual([true, false]);
    expect([compare(0, "LT", 1), compare(1, "LT", 1)]).toEqual([true, false]);
    expect([compare(1, "LTE", 1), compare(2, "LTE", 1)]).toEqual([true, false]);
    expect([compare(1, "EQ", 1), compare(2, "EQ", 1)]).toEqual([true, false]);
    expect([compare(2, "NE", 1), compare(1, "NE", 1)]).toEqual([true, false]);
  });

  it("treats a NaN value as no data: nothing holds", () => {
    for (const c of ["GT", "GTE", "LT", "LTE", "EQ", "NE"] as const)
      expect(compare(Number.NaN, c, 1)).toBe(false);
  });
});

describe("ruleEtag()", () => {
  it("changes with every version", () => {
    expect(ruleEtag({ version: 1 })).not.toBe(ruleEtag({ version: 2 }));
    expect(ruleEtag({ version: 3 })).toMatch(/^[A-Za-z0-9_.:/+=-]{1,128}$/);
  });
});
