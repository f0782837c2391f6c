/** The value types of alert rules and alerts: comparisons, severities, matchers, states. */

export type Comparison = "GT" | "GTE" | "LT" | "LTE" | "EQ" | "NE";
export type Severity = "INFO" | "WARNING" | "CRITICAL";

/**
 * How a label matcher compares (MatchOperator in the proto). REGEX and NOT_REGEX (anchored, as in
 * Prometheus) are not reachable through the v1 contract, which has EQUAL and NOT_EQUAL only.
 */
export type LabelMatchOperator = "EQUAL" | "NOT_EQUAL" | "REGEX" | "NOT_REGEX";

/** One matcher of an alert rule's selector (LabelMatcher in the proto). */
export interface AlertLabelMatcher {
  readonly name: string;
  readonly operator: LabelMatchOperator;
  readonly value: string;
}

export type AlertState = "PENDING" | "FIRING" | "RESOLVED";
