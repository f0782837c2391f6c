/** An alert rule as the domain sees it: its fields, without the storage's bookkeeping. */
import type { AlertLabelMatcher, Comparison, Severity } from "./alert-values.js";
import type { Labels } from "./labels.js";

/** An alert rule (issue 7); the store's AlertRuleRecord adds the version and times. */
export interface AlertRule {
  readonly id: string;
  readonly name: string;
  readonly metric: string;
  readonly selector: Labels;
  readonly comparison: Comparison;
  readonly threshold: number;
  readonly forMs: number;
  readonly severity: Severity;
  readonly labels: Labels;
  readonly enabled: boolean;
  /**
   * The whole selector, in order (every matcher must hold). When present, `selector` is ignored;
   * when absent (records written before it existed), `selector` is the selector, as equality
   * matchers.
   */
  readonly matchers?: readonly AlertLabelMatcher[];
  /** A description copied onto every alert of the rule; absent or empty for none. */
  readonly summary?: string;
}
