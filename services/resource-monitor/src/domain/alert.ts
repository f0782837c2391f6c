/** An alert as the domain sees it: its fields, without the storage's bookkeeping. */
import type { AlertState, Severity } from "./alert-values.js";
import type { Labels } from "./labels.js";

/** One alert of a rule, for one labelled series (issue 7); AlertRecord adds version and outbox. */
export interface Alert {
  readonly id: string;
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
