/**
 * The alert lifecycle, as in Prometheus, as a pure function of a rule, the current values of its
 * metric's series, the rule's stored alerts and the time (a controllable clock: the caller passes
 * `now`). Per series the selector matches, by fingerprint:
 *
 *   (none) / RESOLVED --condition holds--> PENDING (activeSince = now), or FIRING at once when
 *                                          forMs = 0
 *   PENDING --held for forMs--> FIRING (firedTime)   PENDING --cleared--> INACTIVE (deleted)
 *   FIRING --cleared, or series gone--> RESOLVED (resolvedTime)
 *
 * A rule keeps at most one alert per series: a RESOLVED alert that holds again is the same alert
 * (same id) starting over at PENDING, so `activeSince`, `firedTime` and `resolvedTime` are the
 * times it *last* entered each state, as the contract says. A pending alert whose condition
 * clears is INACTIVE, which is not stored: it is returned in `removed` for the caller to delete.
 * A disabled rule matches no series, so its alerts resolve (or go INACTIVE).
 *
 * Silences: a silence (`silencedUntil` > now) changes nothing in the state machine. Every state
 * change is still an event (WatchAlerts and the bus see it), but an event carries `notify`, and
 * what a silenced alert emits never notifies. Exactly:
 * - `alert.pending`, `alert.inactive`, `alert.silenced`: never notify;
 * - `alert.firing`, `alert.resolved`: notify unless the alert is silenced at `now`;
 * - `alert.unsilenced` (the silence expired, seen by `evaluate`, or was lifted, by `silenceAlert`):
 *   notifies when the alert is FIRING before and after (it fired, or kept firing, unheard), so the
 *   firing suppressed by the silence is sent when the silence ends. An expired silence is cleared
 *   from the alert (its fields are set to undefined) and its event comes before the round's state
 *   change. An alert that resolves inside its silence, or in the round the silence expires, sends
 *   no resolved notification (the firing it ends went unheard).
 *
 * Output: `upserts` to insert (no `version`) or update (with the `version` read), `resolved`
 * (FIRING -> RESOLVED this round; update them), `removed` (PENDING -> INACTIVE; delete them), and
 * the events in order. Every input alert is in at most one list; an alert that did not change is
 * in none. Open alerts are rewritten every round (value, labels, lastEvaluationTime). Fields that
 * are cleared are present with the value undefined, so the alert minus its maintained fields can
 * be passed to `Collection.update` as the changes.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Alert } from "./alert.js";
import type { AlertRule } from "./alert-rule.js";
import { compare, matchesSelector, ruleMatchers } from "./alert-rules.js";
import type { AlertState } from "./alert-values.js";
import type { Labels } from "./labels.js";
import type { SeriesValue } from "./metrics-catalog.js";

/**
 * An alert as the engine reads and writes it: an Alert, with `version` (and its times) when it
 * was stored; an AlertRecord fits.
 */
export type EngineAlert = Alert & {
  readonly version?: number;
  readonly createTime?: Date;
  readonly updateTime?: Date;
};

/** The rule fields the engine reads; an AlertRule (and so an AlertRuleRecord) fits. */
export type EvaluableRule = Pick<
  AlertRule,
  | "id"
  | "comparison"
  | "threshold"
  | "forMs"
  | "severity"
  | "labels"
  | "enabled"
  | "selector"
  | "matchers"
  | "summary"
>;

/** AlertState of the proto: the stored states plus INACTIVE, which is never stored. */
export type AlertLifecycleState = AlertState | "INACTIVE";

/** What an event reports. */
export type AlertEventType =
  | "alert.pending"
  | "alert.firing"
  | "alert.resolved"
  | "alert.inactive"
  | "alert.silenced"
  | "alert.unsilenced";

/** The AlertEventType of the proto each event maps to. */
export const protoEventTypes: {
  readonly [T in AlertEventType]: "STATE_CHANGED" | "SILENCED" | "UNSILENCED";
} = {
  "alert.pending": "STATE_CHANGED",
  "alert.firing": "STATE_CHANGED",
  "alert.resolved": "STATE_CHANGED",
  "alert.inactive": "STATE_CHANGED",
  "alert.silenced": "SILENCED",
  "alert.unsilenced": "UNSILENCED",
};

/** One change of one alert. */
export interface AlertEvent {
  readonly type: AlertEventType;
  readonly time: Date;
  /** The alert right after the change (state INACTIVE for `alert.inactive`). */
  readonly alert: Omit<EngineAlert, "state"> & { readonly state: AlertLifecycleState };
  /** The state before the change, for the state-change events only. */
  readonly previousState?: AlertLifecycleState;
  /** Whether to send a notification (see the module comment); false for whatever is silenced. */
  readonly notify: boolean;
}

/** The outcome of one evaluation of one rule. */
export interface Evaluation {
  /** Alerts to insert (without `version`) or update (with it). */
  readonly upserts: EngineAlert[];
  /** Alerts that went FIRING -> RESOLVED: update them. */
  readonly resolved: EngineAlert[];
  /** Pending alerts whose condition cleared (INACTIVE): delete them. */
  readonly removed: EngineAlert[];
  readonly events: AlertEvent[];
}

export interface EvaluateOptions {
  /**
   * Makes the id of a new alert.
   * @default crypto.randomUUID
   */
  readonly newId?: () => string;
}

/**
 * A stable digest of a rule and a series: sha256, in hex, of the rule id and the labels sorted by
 * name, so the order labels come in does not matter.
 */
export function fingerprint(ruleId: string, labels: Labels): string {
  const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256")
    .update(JSON.stringify([ruleId, sorted]))
    .digest("hex");
}

/** Whether the alert is silenced at `now`. */
export function isSilenced(alert: Pick<Alert, "silencedUntil">, now: Date): boolean {
  return alert.silencedUntil !== undefined && alert.silencedUntil.getTime() > now.getTime();
}

/**
 * Evaluates `rule` once at `now` against the current values of its metric's series. `alerts` are
 * the rule's stored alerts (alerts of other rules are ignored); when a series has several, the
 * open one, else the newest, is used.
 */
export function evaluate(
  rule: EvaluableRule,
  series: readonly SeriesValue[],
  alerts: readonly EngineAlert[],
  now: Date,
  options: EvaluateOptions = {},
): Evaluation {
  const newId = options.newId ?? randomUUID;
  const out: Evaluation = { upserts: [], resolved: [], removed: [], events: [] };
  const selector = ruleMatchers(rule);

  const current = new Map<string, SeriesValue>();
  if (rule.enabled) {
    for (const s of series) {
      if (!matchesSelector(s.labels, selector)) continue;
      const fp = fingerprint(rule.id, s.labels);
      if (!current.has(fp)) current.set(fp, s); // the first of duplicate series wins
    }
  }

  const known = new Map<string, EngineAlert>();
  for (const a of alerts) {
    if (a.ruleId !== rule.id) continue;
    const other = known.get(a.fingerprint);
    if (other === undefined || preferred(a, other)) known.set(a.fingerprint, a);
  }

  const holds = (s: SeriesValue | undefined): s is SeriesValue =>
    s !== undefined && compare(s.value, rule.comparison, rule.threshold);
  const refreshed = (s: SeriesValue) => ({
    labels: { ...s.labels, ...rule.labels },
    value: s.value,
    severity: rule.severity,
    summary: rule.summary,
    threshold: rule.threshold,
    lastEvaluationTime: now,
  });
  const event = (
    type: AlertEventType,
    alert: AlertEvent["alert"],
    notify: boolean,
    previousState?: AlertLifecycleState,
  ): AlertEvent =>
    previousState === undefined
      ? { type, time: now, alert, notify }
      : { type, time: now, alert, previousState, notify };

  for (const [fp, alert] of known) {
    const s = current.get(fp);
    const condition = holds(s);
    let next: EngineAlert = alert;
    let changed = false;

    const silenceExpired =
      alert.silencedUntil !== undefined && alert.silencedUntil.getTime() <= now.getTime();
    if (silenceExpired) {
      next = {
        ...next,
        silencedUntil: undefined,
        silencedBy: undefined,
        silenceComment: undefined,
      };
      changed = true;
    }
    if (s !== undefined && (condition || next.state !== "RESOLVED")) {
      next = { ...next, ...refreshed(s) };
      changed = true;
    }

    const from = next.state;
    let to: AlertLifecycleState = from;
    if (from === "PENDING") {
      if (!condition) to = "INACTIVE";
      else if (now.getTime() - next.activeSince.getTime() >= rule.forMs) to = "FIRING";
    } else if (from === "FIRING") {
      if (!condition) to = "RESOLVED";
    } else if (condition) {
      to = rule.forMs === 0 ? "FIRING" : "PENDING";
    }

    if (silenceExpired) {
      out.events.push(event("alert.unsilenced", next, from === "FIRING" && to === "FIRING"));
    }
    if (to === from) {
      if (changed) out.upserts.push(next);
      continue;
    }

    const silenced = isSilenced(next, now);
    if (to === "INACTIVE") {
      out.removed.push(next);
      out.events.push(event("alert.inactive", { ...next, state: "INACTIVE" }, false, from));
    } else if (to === "RESOLVED") {
      next = { ...next, state: "RESOLVED", resolvedTime: now };
      out.resolved.push(next);
      out.events.push(event("alert.resolved", next, !silenced && !silenceExpired, from));
    } else if (to === "PENDING") {
      next = { ...next, state: "PENDING", activeSince: now };
      out.upserts.push(next);
      out.events.push(event("alert.pending", next, false, from));
    } else {
      next =
        from === "RESOLVED"
          ? { ...next, state: "FIRING", activeSince: now, firedTime: now }
          : { ...next, state: "FIRING", firedTime: now };
      out.upserts.push(next);
      out.events.push(event("alert.firing", next, !silenced, from));
    }
  }

  for (const [fp, s] of current) {
    if (known.has(fp) || !holds(s)) continue;
    const firing = rule.forMs === 0;
    const alert: EngineAlert = {
      id: newId(),
      ruleId: rule.id,
      fingerprint: fp,
      state: firing ? "FIRING" : "PENDING",
      activeSince: now,
      ...(firing ? { firedTime: now } : {}),
      ...refreshed(s),
    };
    out.upserts.push(alert);
    out.events.push(event(firing ? "alert.firing" : "alert.pending", alert, firing, "INACTIVE"));
  }
  return out;
}

/** Prefer an open alert over a resolved one, then the most recently changed. */
function preferred(a: EngineAlert, b: EngineAlert): boolean {
  const open = (x: EngineAlert) => x.state !== "RESOLVED";
  if (open(a) !== open(b)) return open(a);
  const changed = (x: EngineAlert) => (x.updateTime ?? x.activeSince).getTime();
  return changed(a) > changed(b);
}

// ---- silences --------------------------------------------------------------------------------

/** The longest silence: 30 days (SilenceAlertRequest.duration). */
export const maxSilenceMs = 30 * 24 * 60 * 60 * 1000;

/** SilenceAlert's parameters, in domain terms. */
export interface SilenceRequest {
  /** How long from `now`; 0 lifts the silence. */
  readonly durationMs: number;
  /** Who asks (a token's `sub`). */
  readonly by: string;
  /** Why; empty or absent for no comment. */
  readonly comment?: string;
}

/**
 * Thrown when a silence's duration is negative, not finite or longer than 30 days. `field` is
 * its path in SilenceAlertRequest; the service maps it to INVALID_ARGUMENT.
 */
export class SilenceValidationError extends Error {
  override readonly name = "SilenceValidationError";
  readonly field = "duration";
  constructor(readonly durationMs: number) {
    super(`duration: must be 0 to 30 days, not ${durationMs} ms`);
  }
}

/**
 * Silences `alert` until `now + durationMs`, replacing an earlier silence (`alert.silenced`), or
 * lifts its silence when `durationMs` is 0 (`alert.unsilenced`, which notifies when the alert is
 * FIRING). Lifting an alert that has no silence changes nothing: no event, `changed` false.
 */
export function silenceAlert(
  alert: EngineAlert,
  request: SilenceRequest,
  now: Date,
): { readonly alert: EngineAlert; readonly changed: boolean; readonly event?: AlertEvent } {
  const { durationMs } = request;
  if (!Number.isFinite(durationMs) || durationMs < 0 || durationMs > maxSilenceMs) {
    throw new SilenceValidationError(durationMs);
  }
  if (durationMs === 0) {
    if (alert.silencedUntil === undefined) return { alert, changed: false };
    const lifted: EngineAlert = {
      ...alert,
      silencedUntil: undefined,
      silencedBy: undefined,
      silenceComment: undefined,
    };
    const notify = alert.state === "FIRING";
    return {
      alert: lifted,
      changed: true,
      event: { type: "alert.unsilenced", time: now, alert: lifted, notify },
    };
  }
  const silenced: EngineAlert = {
    ...alert,
    silencedUntil: new Date(now.getTime() + durationMs),
    silencedBy: request.by,
    silenceComment: request.comment === "" ? undefined : request.comment,
  };
  return {
    alert: silenced,
    changed: true,
    event: { type: "alert.silenced", time: now, alert: silenced, notify: false },
  };
}
