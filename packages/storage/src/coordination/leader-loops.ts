/**
 * The services' leader-only work in one shape: a few loops (timers, reaper, outbox relay, expiry
 * sweep, reconcile) that run on one replica at a time, each every so often, for as long as that
 * replica holds the lease. A failing round is logged and the loop goes on; losing the lease stops
 * every loop at once; the next leader starts them again.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { LeaderElector } from "./leader-elector.js";
import type { LeaseManager } from "./ports.js";

/** One leader-only loop. */
export interface LeaderLoop {
  /** Names the loop in logs. */
  readonly name: string;
  /** The pause between two rounds. */
  readonly everyMs: number;
  /** Waits `everyMs` before the first round too (its first round is done elsewhere). @default false */
  readonly delayFirst?: boolean;
  /** One round; `signal` aborts when leadership ends. */
  run(signal: AbortSignal): Promise<unknown>;
}

/** Where the loops log. */
export interface LeaderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Options of {@link runLeaderLoops}. */
export interface RunLeaderLoopsOptions {
  readonly leases: LeaseManager;
  /** The lease's name, e.g. "server-manager:reaper". */
  readonly lease: string;
  /** The lease's time-to-live: a dead leader is replaced after at most this long. */
  readonly ttlMs: number;
  readonly loops: readonly LeaderLoop[];
  /** Work that runs for the whole term beside the loops (e.g. following a stream). */
  readonly during?: (signal: AbortSignal) => Promise<void>;
  readonly logger: LeaderLogger;
  /** Stops campaigning; the returned promise settles once every loop has stopped. */
  readonly signal: AbortSignal;
}

/** Runs `loops` on the replica that holds `lease`, until `signal` aborts. */
export function runLeaderLoops(opts: RunLeaderLoopsOptions): Promise<void> {
  const { logger } = opts;
  return new LeaderElector(opts.leases).runAsLeader(opts.lease, {
    ttlMs: opts.ttlMs,
    signal: opts.signal,
    onError: (err) => logger.warn({ err, lease: opts.lease }, "leadership"),
    onElected: async (lease, signal) => {
      logger.info({ fence: lease.fence, lease: opts.lease }, "leading");
      await Promise.all([
        opts.during?.(signal),
        ...opts.loops.map((loop) => runLoop(loop, signal, logger)),
      ]);
    },
  });
}

async function runLoop(loop: LeaderLoop, signal: AbortSignal, logger: LeaderLogger) {
  // Ends early on abort; the listener goes with the timer (one per round would pile up).
  const pause = () => sleep(loop.everyMs, undefined, { signal }).catch(() => undefined);
  if (loop.delayFirst) await pause();
  while (!signal.aborted) {
    try {
      await loop.run(signal);
    } catch (err) {
      if (!signal.aborted) logger.warn({ err, loop: loop.name }, `${loop.name} round failed`);
    }
    await pause();
  }
}

/**
 * Runs a start-up step until it succeeds or `signal` aborts, backing off from `firstDelayMs`
 * (doubling, up to 30 s) and logging each failure: for steps that need a backend which may not
 * answer yet (e.g. storing the static nodes).
 */
export async function retryUntilDone(
  what: string,
  step: () => Promise<void>,
  opts: {
    readonly signal: AbortSignal;
    readonly logger: LeaderLogger;
    readonly firstDelayMs?: number;
  },
): Promise<void> {
  for (
    let delay = opts.firstDelayMs ?? 500;
    !opts.signal.aborted;
    delay = Math.min(delay * 2, 30_000)
  ) {
    try {
      await step();
      return;
    } catch (err) {
      opts.logger.warn({ err, retryInMs: delay }, `${what}: not done yet`);
      await sleep(delay, undefined, { signal: opts.signal }).catch(() => undefined);
    }
  }
}
