/**
 * When a crashed xrdp is restarted, and when it is given up: exponential backoff per restart of
 * the instance, and a crash loop (too many exits within a window) marks it FAILED.
 */

/** The restart knobs (XRDP_RESTART_BACKOFF_MS and the like). */
export interface RestartPolicy {
  /** The first restart's delay; each later one doubles it. */
  readonly restartBackoffMs: number;
  /** The longest delay. */
  readonly maxRestartBackoffMs: number;
  /** This many exits within the window are a crash loop. */
  readonly crashLoopExits: number;
  readonly crashLoopWindowMs: number;
}

/** The exit times (ms) still inside the crash-loop window at `now`, followed by `now`. */
export function recentExits(
  exits: readonly number[],
  now: number,
  policy: Pick<RestartPolicy, "crashLoopWindowMs">,
): number[] {
  return [...exits.filter((t) => now - t < policy.crashLoopWindowMs), now];
}

/** True when the recent exits amount to a crash loop: the instance is not restarted. */
export function isCrashLoop(
  exits: readonly number[],
  policy: Pick<RestartPolicy, "crashLoopExits">,
): boolean {
  return exits.length >= policy.crashLoopExits;
}

/** How long to wait before the restart that follows `restartCount` earlier ones. */
export function restartDelayMs(
  restartCount: number,
  policy: Pick<RestartPolicy, "restartBackoffMs" | "maxRestartBackoffMs">,
): number {
  return Math.min(policy.restartBackoffMs * 2 ** restartCount, policy.maxRestartBackoffMs);
}
