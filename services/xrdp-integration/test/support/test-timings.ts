/** The supervisor timings the xrdp-integration process tests share. */
import type { SupervisorTimings } from "../../src/supervisor/supervisor-options.js";

/**
 * Quick restarts and no health checks or crash-loop verdicts getting in the way: 10 s to READY,
 * 2 s to stop, restarts after 50-200 ms, five exits a minute before a crash loop.
 */
export const testTimings: SupervisorTimings = {
  readinessTimeoutMs: 10_000,
  stopGraceMs: 2_000,
  restartBackoffMs: 50,
  maxRestartBackoffMs: 200,
  crashLoopExits: 5,
  crashLoopWindowMs: 60_000,
  healthIntervalMs: 60_000,
};
