/**
 * An instance's readiness and health: its port is probed (RDP X.224) until it answers, then READY;
 * a timeout kills xrdp and marks the instance FAILED. Once READY, the same probe is its health
 * check at each health interval: three misses in a row kill xrdp, whose exit takes the crash path.
 */
import type { Clock } from "@lucid-rdp/runtime";
import { probeRdp, probeUntilReady } from "../host/rdp-probe.js";
import type { InstanceDesktops } from "./instance-desktops.js";
import type { InstanceRecords } from "./instance-records.js";
import type { ProcessHandle } from "./process-handle.js";
import { endInstanceDesktops, type SupervisorState } from "./supervised-instance.js";
import type { SupervisorOptions } from "./supervisor-options.js";

/** What {@link InstanceReadiness} works with. */
export interface InstanceReadinessOptions {
  readonly opts: SupervisorOptions;
  readonly state: SupervisorState;
  readonly records: InstanceRecords;
  readonly desktops: InstanceDesktops;
  readonly clock: Clock;
}

/** Probes instances until READY, then keeps probing them as their health check. */
export class InstanceReadiness {
  constructor(private readonly deps: InstanceReadinessOptions) {}

  /**
   * Runs awaitReady off the request path. Every background task ends in a catch: an unhandled
   * rejection would exit the service and orphan every instance it supervises. A store outage
   * while recording the result is waited out by the record writes themselves.
   */
  readyInBackground(id: string, handle: ProcessHandle, port: number): void {
    const { state, opts } = this.deps;
    void this.awaitReady(id, handle, port).catch((e: unknown) => {
      if (state.live.get(id)?.handle === handle && !state.letGo) {
        opts.logger.error({ err: e, instance: id }, "readiness failed");
      }
    });
  }

  /** Probes until READY; a timeout kills the process (its exit then takes the crash path). */
  private async awaitReady(id: string, handle: ProcessHandle, port: number): Promise<void> {
    const { opts, state, records } = this.deps;
    const result = await probeUntilReady(opts.listenAddress, port, {
      deadlineMs: opts.readinessTimeoutMs,
      intervalMs: 100,
    });
    const live = state.live.get(id);
    if (live === undefined || live.handle !== handle || live.stopping) return;
    if (!result.ok) {
      opts.logger.warn(
        { instance: id, reason: result.reason },
        "xrdp never answered the RDP probe",
      );
      live.stopping = true;
      handle.killGroup("SIGKILL");
      const failed = await records.transition(id, "FAILED", {
        stateReason: "READINESS_TIMEOUT",
        stateMessage: `the port never answered the RDP probe: ${result.reason}`,
      });
      await endInstanceDesktops(this.deps.desktops, failed, live, 0);
      return;
    }
    await records.transition(id, "READY", {
      readyTime: this.deps.clock(),
      stateReason: undefined,
      stateMessage: undefined,
    });
    // Stopped or restarted while READY was being written (an outage can hold a write long).
    if (live.handle !== handle || live.stopping) return;
    live.probeFailures = 0;
    clearInterval(live.healthTimer);
    live.healthTimer = setInterval(
      () =>
        void this.healthCheck(id, handle).catch((e: unknown) =>
          opts.logger.warn({ err: e, instance: id }, "health check failed"),
        ),
      opts.healthIntervalMs,
    );
    live.healthTimer.unref();
  }

  /** The probe is also the health check: three misses in a row kill the process to restart it. */
  private async healthCheck(id: string, handle: ProcessHandle): Promise<void> {
    const { opts, state } = this.deps;
    const live = state.live.get(id);
    if (live === undefined || live.handle !== handle || live.stopping) return;
    const record = await this.deps.records.find(id);
    if (record === undefined) return;
    // A desktop whose X server was killed leaves its display's files, and sesman skips such a
    // display: without this, a block fills up while the instance lives.
    this.deps.desktops.cleanStale(record);
    // Generous: a busy host answers slowly, and a false alarm restarts a working instance.
    const r = await probeRdp(opts.listenAddress, record.port, { timeoutMs: 5_000 });
    if (r.ok) {
      live.probeFailures = 0;
      return;
    }
    live.probeFailures++;
    if (live.probeFailures >= 3) {
      opts.logger.warn(
        { instance: id, reason: r.reason },
        "health probe failed 3 times: restarting",
      );
      handle.killGroup("SIGKILL");
    }
  }
}
