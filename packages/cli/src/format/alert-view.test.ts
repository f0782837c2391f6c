import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AlertMetric,
  AlertRuleSchema,
  AlertSchema,
  AlertState,
  Comparison,
  MatchOperator,
  Severity,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { alertStateText, ruleCondition, ruleTable } from "./alert-view.js";

describe("ruleCondition()", () => {
  it("reads as metric, symbol, threshold and how long", () => {
    const rule = create(AlertRuleSchema, {
      metric: AlertMetric.HOST_LOAD1,
      comparison: Comparison.GREATER_THAN,
      threshold: 4,
      forDuration: { seconds: 300n },
    });
    expect(ruleCondition(rule)).toBe("HOST_LOAD1 > 4 for 5m");
  });

  it("leaves out a zero or absent for_duration", () => {
    const rule = create(AlertRuleSchema, {
      metric: AlertMetric.HOST_CPU_USAGE_PERCENT,
      comparison: Comparison.GREATER_THAN_OR_EQUAL,
      threshold: 0,
      forDuration: { seconds: 0n },
    });
    expect(ruleCondition(rule)).toBe("HOST_CPU_USAGE_PERCENT >= 0");
  });
});

describe("ruleTable()", () => {
  it("shows the selector as matchers and the severity", () => {
    const rule = create(AlertRuleSchema, {
      id: "r1",
      displayName: "disk",
      metric: AlertMetric.HOST_FILESYSTEM_USED_PERCENT,
      comparison: Comparison.GREATER_THAN,
      threshold: 90,
      severity: Severity.CRITICAL,
      selector: [{ name: "mount_point", operator: MatchOperator.EQUAL, value: "/" }],
    });
    const line = ruleTable([rule], new Date()).split("\n")[1] ?? "";
    expect(line).toMatch(
      /^r1 +disk +HOST_FILESYSTEM_USED_PERCENT > 90 +mount_point=\/ +\S*CRITICAL/,
    );
  });
});

describe("alertStateText()", () => {
  const now = new Date("2026-12-06T12:00:00Z");
  it("says a silenced alert is silenced, and not once the silence has passed", () => {
    const alert = create(AlertSchema, {
      state: AlertState.FIRING,
      silencedUntil: timestampFromDate(new Date("2026-12-06T13:00:00Z")),
    });
    expect(alertStateText(alert, now)).toMatch(/FIRING.* \(silenced\)$/);
    expect(alertStateText(alert, new Date("2026-12-06T14:00:00Z"))).not.toContain("silenced");
  });
});
