/**
 * Pure: the alert-rule form's values, read from a rule and turned into the fields of a
 * CreateAlertRule, or the changed fields and update mask of an UpdateAlertRule.
 */
import type { AlertMetric, AlertRule, Comparison, Severity } from "@lucid-rdp/gen";

/** The rule fields the console edits. */
export interface RuleValues {
  readonly displayName: string;
  readonly metric: AlertMetric;
  readonly comparison: Comparison;
  readonly threshold: number;
  /** How long the condition must hold before the alert fires, in whole seconds. */
  readonly forSeconds: number;
  readonly severity: Severity;
  readonly summary: string;
  readonly disabled: boolean;
}

/** The proto name of each edited field, for the update mask. */
const maskNames: Record<keyof RuleValues, string> = {
  displayName: "display_name",
  metric: "metric",
  comparison: "comparison",
  threshold: "threshold",
  forSeconds: "for_duration",
  severity: "severity",
  summary: "summary",
  disabled: "disabled",
};

/** The form values of an existing rule. */
export function valuesOf(r: AlertRule): RuleValues {
  return {
    displayName: r.displayName,
    metric: r.metric,
    comparison: r.comparison,
    threshold: r.threshold,
    forSeconds: Number(r.forDuration?.seconds ?? 0n),
    severity: r.severity,
    summary: r.summary,
    disabled: r.disabled,
  };
}

/** The AlertRule fields (as protobuf-es init) of form values. */
export function ruleFields(v: RuleValues) {
  return {
    displayName: v.displayName,
    metric: v.metric,
    comparison: v.comparison,
    threshold: v.threshold,
    forDuration: { seconds: BigInt(Math.max(0, Math.round(v.forSeconds))) },
    severity: v.severity,
    summary: v.summary,
    disabled: v.disabled,
  };
}

/** The update mask paths of the fields that differ between `before` and `after`, in field order. */
export function changedPaths(before: RuleValues, after: RuleValues): string[] {
  return (Object.keys(maskNames) as (keyof RuleValues)[])
    .filter((k) => before[k] !== after[k])
    .map((k) => maskNames[k]);
}
