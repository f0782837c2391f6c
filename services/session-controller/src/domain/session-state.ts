/**
 * The session life cycle: PENDING -> PROVISIONING -> READY -> ACTIVE <-> DISCONNECTED ->
 * TERMINATING -> TERMINATED, or FAILED with a reason. TERMINATING is reachable from every state
 * before it, FAILED from every non-terminal state; TERMINATED and FAILED are terminal. Every change
 * goes through `nextState`, so an illegal transition cannot be stored, and takes
 * `connectedTimeChanges`, so no way out of ACTIVE loses the connected time.
 */
import type { SessionState } from "./session-values.js";

const allowed: Readonly<Record<SessionState, readonly SessionState[]>> = {
  PENDING: ["PROVISIONING", "TERMINATING", "FAILED"],
  PROVISIONING: ["READY", "TERMINATING", "FAILED"],
  READY: ["ACTIVE", "TERMINATING", "FAILED"],
  ACTIVE: ["DISCONNECTED", "TERMINATING", "FAILED"],
  DISCONNECTED: ["ACTIVE", "TERMINATING", "FAILED"],
  TERMINATING: ["TERMINATED", "FAILED"],
  TERMINATED: [],
  FAILED: [],
};

/** Every state, in life-cycle order. */
export const sessionStates: readonly SessionState[] = Object.keys(allowed) as SessionState[];

/**
 * Thrown when a change of state is not part of the session life cycle. The service maps it to
 * FAILED_PRECONDITION; the message names both states.
 */
export class IllegalSessionTransitionError extends Error {
  override readonly name = "IllegalSessionTransitionError";
  constructor(
    readonly sessionId: string,
    readonly from: SessionState,
    readonly to: SessionState,
  ) {
    super(`session ${sessionId} cannot go from ${from} to ${to}`);
  }
}

/** True when `from` may change to `to`. */
export function canTransition(from: SessionState, to: SessionState): boolean {
  return allowed[from].includes(to);
}

/** Returns `to`, or throws IllegalSessionTransitionError naming both states. */
export function nextState(sessionId: string, from: SessionState, to: SessionState): SessionState {
  if (!canTransition(from, to)) throw new IllegalSessionTransitionError(sessionId, from, to);
  return to;
}

/** TERMINATED and FAILED end a session's life. */
export function isTerminal(state: SessionState): boolean {
  return allowed[state].length === 0;
}

/**
 * True while the session may still be used, reconnected or kept alive: PENDING to DISCONNECTED.
 * TERMINATING is on its way out: no timer runs and KeepAlive is refused.
 */
export function isUsable(state: SessionState): boolean {
  return allowed[state].includes("TERMINATING");
}

/** What a session keeps of its connected time: when the open interval began, and the closed ones. */
export interface ConnectedTimes {
  /** When the session last became ACTIVE (a client logged in). */
  readonly connectedTime?: Date;
  /** The connected time of the intervals already closed, in ms. */
  readonly totalConnectedMs?: number;
}

/**
 * The changes a move from `from` to `to` at `now` makes to the connected time. Leaving ACTIVE, for
 * DISCONNECTED, TERMINATING or FAILED alike, closes the open interval: `totalConnectedMs` grows by
 * `now - connectedTime` (never by a negative amount) and `disconnectedTime` becomes `now`. Every
 * other move changes nothing (empty object). A session that is not ACTIVE has no open interval,
 * so its total is final until it is ACTIVE again.
 */
export function connectedTimeChanges(
  from: SessionState,
  to: SessionState,
  times: ConnectedTimes,
  now: Date,
): { disconnectedTime?: Date; totalConnectedMs?: number } {
  if (from !== "ACTIVE" || to === "ACTIVE") return {};
  const open =
    times.connectedTime === undefined ? 0 : now.getTime() - times.connectedTime.getTime();
  return {
    disconnectedTime: now,
    totalConnectedMs: (times.totalConnectedMs ?? 0) + Math.max(0, open),
  };
}
