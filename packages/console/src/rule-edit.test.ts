import { create } from "@bufbuild/protobuf";
import { AlertMetric, AlertRuleSchema, Comparison, Severity } from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { changedPaths, ruleFields, valuesOf } from "./rule-edit.js";

const rule = create(AlertRuleSchema, {
  id: "0f5e2d3c-1111-4222-8333-444455556666",
  displayName: "cpu high",
  metric: AlertMetric.HOST_CPU_USAGE_PERCENT,
  comparison: Comparison.GREATER_THAN,
  threshold: 90,
  forDuration: { seconds: 60n },
  severity: Severity.WARNING,
  summary: "CPU above 90%",
});

describe("rule-edit", () => {
  it("reads a rule's values", () => {
    expect(valuesOf(rule)).toEqual({
      displayName: "cpu high",
      metric: AlertMetric.HOST_CPU_USAGE_PERCENT,
      comparison: Comparison.GREATER_THAN,
      threshold: 90,
      forSeconds: 60,
      severity: Severity.WARNING,
      summary: "CPU above 90%",
      disabled: false,
    });
  });

  it("names only the changed fields, by their proto names", () => {
    const v = valuesOf(rule);
    expect(changedPaths(v, v)).toEqual([]);
    expect(changedPaths(v, { ...v, threshold: 80, forSeconds: 0, disabled: true })).toEqual([
      "threshold",
      "for_duration",
      "disabled",
    ]);
  });

  it("turns values into rule fields with a whole-second duration", () => {
    expect(ruleFields({ ...valuesOf(rule), forSeconds: 2.6 }).forDuration).toEqual({
      seconds: 3n,
    });
  });
});
