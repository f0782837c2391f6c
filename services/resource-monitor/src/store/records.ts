/** The records resource-monitor keeps: alert rules and alerts, as plain TypeScript. */
import type { Labels, Outboxed, Versioned } from "@lucid-rdp/storage";
import type {
  AlertLabelMatcher,
  AlertState,
  Comparison,
  Severity,
} from "../domain/alert-values.js";

/** An alert rule (issue 7). */
export interface AlertRuleRecord extends Versioned {
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

/** One alert of a rule, for one labelled series (issue 7). */
export interface AlertRecord extends Outboxed {
  readonly ruleId: string;
  /** A stable digest of the series' labels. */
  readonly fingerprint: string;
  readonly state: AlertState;
  readonly labels: Labels;
  readonly value: number;
  readonly activeSince: Date;
  readonly firedTime?: Date;
  readonly resolvedTime?: Date;
  readonly silencedUntil?: Date;
  /** Who silenced the alert (a token's `sub`); absent when not silenced. */
  readonly silencedBy?: string;
  /** Why the alert was silenced; absent when not silenced or no comment was given. */
  readonly silenceComment?: string;
  /** The rule's severity at the last evaluation (kept on the alert so lists can filter by it). */
  readonly severity?: Severity;
  /** The rule's summary at the last evaluation. */
  readonly summary?: string;
  /** The rule's threshold at the last evaluation. */
  readonly threshold?: number;
  /** When the rule was last evaluated for this series. */
  readonly lastEvaluationTime?: Date;
}
