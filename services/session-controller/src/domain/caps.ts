/**
 * The session caps: at most `perUser` live sessions per user and `total` in the cluster. They are
 * enforced with cluster-wide counters (the Counters port on Redis), not per replica: the service
 * takes the caps in the order `capsToTake` gives, with a bounded increment each, releases what it
 * took when a later one is full, and throws CapExceededError for the full one. A session holds its
 * caps from PENDING until it reaches TERMINATED or FAILED (`releasesCaps`).
 */
import { liveSessionStates, type SessionState } from "./session-values.js";
import { isUserName } from "./user-name.js";

/** Which cap. */
export type CapName = "per_user" | "total";

/** The configured caps. */
export interface CapLimits {
  /** Live sessions one user may have. */
  readonly perUser: number;
  /** Live sessions in the whole cluster. */
  readonly total: number;
}

/**
 * Thrown when a new session would exceed a cap. The service maps it to RESOURCE_EXHAUSTED; the
 * message names the cap and its limit.
 */
export class CapExceededError extends Error {
  override readonly name = "CapExceededError";
  constructor(
    readonly cap: CapName,
    readonly limit: number,
    readonly user: string,
  ) {
    super(
      cap === "per_user"
        ? `max sessions per user (${limit}) reached for ${user}`
        : `max sessions in total (${limit}) reached`,
    );
  }
}

/**
 * The counter keys of a user's caps (the Counters adapter adds its own prefix). User names cannot
 * hold `:` (the contract's rule), so no user's key can collide with another's or with the total.
 */
export function capKeys(user: string): { user: string; total: string } {
  if (!isUserName(user)) throw new RangeError("capKeys: not a valid user name");
  return { user: `sessions:user:${user}`, total: "sessions:total" };
}

/** One cap to take: the counter key and its limit. */
export interface CapToTake {
  readonly cap: CapName;
  readonly key: string;
  readonly limit: number;
}

/**
 * The caps a new session of `user` takes, in order: the user's first (the one more often full, so
 * the shared total is touched least), then the total.
 */
export function capsToTake(user: string, limits: CapLimits): CapToTake[] {
  const keys = capKeys(user);
  return [
    { cap: "per_user", key: keys.user, limit: limits.perUser },
    { cap: "total", key: keys.total, limit: limits.total },
  ];
}

/** Checks configured caps once, at start-up: positive integers, per user at most the total. */
export function assertCapLimits(limits: CapLimits): void {
  for (const [name, value] of [
    ["perUser", limits.perUser],
    ["total", limits.total],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`caps: ${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.perUser > limits.total) {
    throw new RangeError(
      `caps: perUser (${limits.perUser}) must not exceed total (${limits.total})`,
    );
  }
}

/** The states in which a session counts against the caps: the live ones, PENDING to TERMINATING. */
export const capHoldingStates: readonly SessionState[] = liveSessionStates;

/** True while a session counts against the caps. */
export function holdsCaps(state: SessionState): boolean {
  return capHoldingStates.includes(state);
}

/** True when a change of state gives the session's caps back (it just ended). */
export function releasesCaps(from: SessionState, to: SessionState): boolean {
  return holdsCaps(from) && !holdsCaps(to);
}
