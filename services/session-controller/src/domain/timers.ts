/**
 * The five session timers as pure deadline arithmetic. Nothing here holds a timer: the deadlines
 * are computed from the times stored on the session record, written back to it with the earliest
 * pending moment as `nextDeadline`, and acted on by whichever replica holds the timer lease and
 * finds `nextDeadline < now`. A restarted or second replica recomputes the same actions from the
 * same record.
 *
 * Each timer sends a warning `warnBeforeMs` before it acts (or when it is armed, if it is shorter
 * than that), exactly once per deadline: the record's `warned` keeps, per timer, the deadline the
 * warning was sent for. When a deadline moves (activity, a reconnect, a KeepAlive), its warning is
 * due again for the new deadline.
 *
 * Which timer runs when, and from what:
 * - connect: while READY, from `readyTime` (nobody connected yet);
 * - idle: while ACTIVE, from the later of `connectedTime` and `lastActivityTime`;
 * - disconnected: while DISCONNECTED, from `disconnectedTime`;
 * - max_duration: PENDING to DISCONNECTED, from `createTime` (the contract: "from creation");
 * - keepalive: PENDING to DISCONNECTED, from the later of `createTime` and `lastKeepAliveTime`.
 * TERMINATING, TERMINATED and FAILED run no timer. A missing start time falls back to `createTime`
 * (the earliest the session could have started the timer), so a timer is never lost.
 *
 * KeepAlive restarts only the keepalive timer (the KeepAlive RPC contract): the service sets
 * `lastKeepAliveTime`, not `lastActivityTime`, and reports `last_activity_time` as the later of both.
 */

import type { SessionTimerLengths } from "./policy.js";
import type { SessionDeadlines, SessionState, SessionStateReason } from "./session-values.js";

/** One of the five timers. */
export type SessionTimer = "connect" | "idle" | "disconnected" | "max_duration" | "keepalive";

/** Every timer, in the order of the contract (and of ties between due actions). */
export const sessionTimers: readonly SessionTimer[] = [
  "connect",
  "idle",
  "disconnected",
  "max_duration",
  "keepalive",
];

/** The key of each timer in SessionDeadlines (and in the record's `deadlines` and `warned`). */
export const deadlineKeys: { readonly [T in SessionTimer]: keyof SessionDeadlines } = {
  connect: "connect",
  idle: "idle",
  disconnected: "disconnected",
  max_duration: "maxDuration",
  keepalive: "keepalive",
};

/** The reason a session ends with when the timer acts. */
export const timerReasons: { readonly [T in SessionTimer]: SessionStateReason } = {
  connect: "CONNECT_DEADLINE",
  idle: "IDLE_TIMEOUT",
  disconnected: "DISCONNECTED_LIMIT",
  max_duration: "MAX_DURATION",
  keepalive: "KEEPALIVE_EXPIRED",
};

/** What the timers read of a session; a SessionRecord with its policy resolved fits. */
export interface TimerSession {
  readonly state: SessionState;
  readonly createTime: Date;
  readonly readyTime?: Date;
  /** When a client last connected. */
  readonly connectedTime?: Date;
  /** When the last client disconnected. */
  readonly disconnectedTime?: Date;
  readonly lastActivityTime?: Date;
  readonly lastKeepAliveTime?: Date;
  readonly policy: SessionTimerLengths;
  /** Per timer, the deadline whose warning was already sent. */
  readonly warned?: SessionDeadlines;
}

/** The armed deadlines, and when each timer warns. */
export type ComputedDeadlines = SessionDeadlines & { readonly warnings: SessionDeadlines };

/** Something a timer has to do now. */
export interface DueAction {
  readonly timer: SessionTimer;
  /** `warn`: send the TIMER_WARNING event, then `markWarned`; `act`: end the session. */
  readonly kind: "warn" | "act";
  /** When it became due. */
  readonly at: Date;
  /** When the timer acts (equal to `at` for an act): the warning's `deadline_time`. */
  readonly deadline: Date;
}

const everyLiveTimer: readonly SessionTimer[] = ["max_duration", "keepalive"];
const timersByState: { readonly [S in SessionState]: readonly SessionTimer[] } = {
  PENDING: everyLiveTimer,
  PROVISIONING: everyLiveTimer,
  READY: ["connect", ...everyLiveTimer],
  ACTIVE: ["idle", ...everyLiveTimer],
  DISCONNECTED: ["disconnected", ...everyLiveTimer],
  TERMINATING: [],
  TERMINATED: [],
  FAILED: [],
};

/** The timers that run in a state. */
export function timersIn(state: SessionState): readonly SessionTimer[] {
  return timersByState[state];
}

interface Armed {
  readonly timer: SessionTimer;
  readonly warnAt: Date;
  readonly deadline: Date;
  readonly warned: boolean;
}

/** The armed timers of a session, in contract order. */
function armed(session: TimerSession, warnBeforeMs: number): Armed[] {
  if (!Number.isFinite(warnBeforeMs) || warnBeforeMs < 0) {
    throw new RangeError(`warnBeforeMs must be a non-negative number, got ${warnBeforeMs}`);
  }
  const created = session.createTime.getTime();
  const result: Armed[] = [];
  for (const timer of timersIn(session.state)) {
    const [start, length] = startAndLength(session, timer, created);
    const deadline = start + length;
    const warnAt = Math.max(start, deadline - warnBeforeMs);
    const sent = session.warned?.[deadlineKeys[timer]];
    result.push({
      timer,
      warnAt: new Date(warnAt),
      deadline: new Date(deadline),
      warned: sent !== undefined && sent.getTime() === deadline,
    });
  }
  return result;
}

function startAndLength(
  session: TimerSession,
  timer: SessionTimer,
  created: number,
): [number, number] {
  const { policy } = session;
  switch (timer) {
    case "connect":
      return [time(session.readyTime, created), policy.connectDeadlineMs];
    case "idle":
      return [
        Math.max(time(session.connectedTime, created), time(session.lastActivityTime, created)),
        policy.idleTimeoutMs,
      ];
    case "disconnected":
      return [time(session.disconnectedTime, created), policy.disconnectedLimitMs];
    case "max_duration":
      return [created, policy.maxDurationMs];
    case "keepalive":
      return [
        Math.max(created, time(session.lastKeepAliveTime, created)),
        policy.keepaliveTimeoutMs,
      ];
  }
}

function time(date: Date | undefined, fallback: number): number {
  return date === undefined ? fallback : date.getTime();
}

/** The deadline of every timer running in the session's state, and when each warns. */
export function computeDeadlines(session: TimerSession, warnBeforeMs: number): ComputedDeadlines {
  const deadlines: Partial<Record<keyof SessionDeadlines, Date>> = {};
  const warnings: Partial<Record<keyof SessionDeadlines, Date>> = {};
  for (const a of armed(session, warnBeforeMs)) {
    deadlines[deadlineKeys[a.timer]] = a.deadline;
    warnings[deadlineKeys[a.timer]] = a.warnAt;
  }
  return { ...deadlines, warnings };
}

/**
 * What is due at `now`, earliest first (a timer's warning before its act at the same moment, then
 * in contract order). A warning not yet sent is listed even when its act is due too, so that a
 * replica that was down still warns before it acts. Nothing is listed before its time.
 */
export function dueActions(session: TimerSession, now: Date, warnBeforeMs: number): DueAction[] {
  const t = now.getTime();
  const due: DueAction[] = [];
  for (const a of armed(session, warnBeforeMs)) {
    if (!a.warned && a.warnAt.getTime() <= t) {
      due.push({ timer: a.timer, kind: "warn", at: a.warnAt, deadline: a.deadline });
    }
    if (a.deadline.getTime() <= t) {
      due.push({ timer: a.timer, kind: "act", at: a.deadline, deadline: a.deadline });
    }
  }
  return due.sort(
    (x, y) =>
      x.at.getTime() - y.at.getTime() ||
      (x.timer === y.timer ? (x.kind === "warn" ? -1 : 1) : 0) ||
      sessionTimers.indexOf(x.timer) - sessionTimers.indexOf(y.timer),
  );
}

/**
 * The earliest moment something is still to do (a warning not yet sent, or an act), or undefined
 * when no timer runs. Stored on the record as `nextDeadline` for the timer loop's query.
 */
export function nextDeadline(session: TimerSession, warnBeforeMs: number): Date | undefined {
  let next: number | undefined;
  for (const a of armed(session, warnBeforeMs)) {
    const at = a.warned ? a.deadline.getTime() : a.warnAt.getTime();
    if (next === undefined || at < next) next = at;
  }
  return next === undefined ? undefined : new Date(next);
}

/**
 * The record's timer fields after any change of state, times or `warned`: the armed deadlines and
 * the next moment to look at the session again (undefined: never, clear it).
 */
export function timerFields(
  session: TimerSession,
  warnBeforeMs: number,
): { deadlines: SessionDeadlines; nextDeadline: Date | undefined } {
  const { warnings: _warnings, ...deadlines } = computeDeadlines(session, warnBeforeMs);
  return { deadlines, nextDeadline: nextDeadline(session, warnBeforeMs) };
}

/** The record's `warned` after the warning of `timer` for `deadline` was sent. */
export function markWarned(
  warned: SessionDeadlines | undefined,
  timer: SessionTimer,
  deadline: Date,
): SessionDeadlines {
  return { ...warned, [deadlineKeys[timer]]: new Date(deadline.getTime()) };
}
