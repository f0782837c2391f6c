/** This host's health, evaluated on demand from the monitor's latest sample (GetHostHealth). */
import type { Clock } from "@lucid-rdp/runtime";
import {
  evaluateHostHealth,
  type HostHealthResult,
  type HostHealthSnapshot,
  type HostHealthThresholds,
} from "../domain/host-health.js";
import type { HostSample } from "../sampling/host-sampler.js";
import type { Monitor } from "./monitor.js";

/** What HostHealthChecker reads and where it draws its lines. */
export interface HostHealthCheckerOptions {
  readonly monitor: Pick<Monitor, "latestHost" | "lastSampleTime" | "startTime">;
  /** Whether the xrdp binary is installed (a fatal check). */
  readonly xrdpInstalled: () => boolean;
  readonly thresholds: HostHealthThresholds;
  readonly clock: Clock;
}

/** Evaluates the host's health, carrying each check's last transition from one call to the next. */
export class HostHealthChecker {
  private previous: HostHealthResult | undefined;

  constructor(private readonly opts: HostHealthCheckerOptions) {}

  /** Runs every check now. */
  check(): HostHealthResult {
    const m = this.opts.monitor;
    const h = m.latestHost;
    const result = evaluateHostHealth({
      host: h ? hostHealthSnapshot(h) : undefined,
      xrdpInstalled: this.opts.xrdpInstalled(),
      lastSampleTime: m.lastSampleTime,
      startTime: m.startTime,
      now: this.opts.clock(),
      thresholds: this.opts.thresholds,
      previous: this.previous,
    });
    this.previous = result;
    return result;
  }
}

/** What the checks read of a host sample, in percent. */
export function hostHealthSnapshot(h: HostSample): HostHealthSnapshot {
  return {
    filesystems: h.filesystems.map((f) => ({
      mountPoint: f.mountPoint,
      usedPercent: f.sizeBytes > 0 ? ((f.sizeBytes - f.availableBytes) / f.sizeBytes) * 100 : 0,
    })),
    memoryAvailablePercent:
      h.memory.totalBytes > 0 ? (h.memory.availableBytes / h.memory.totalBytes) * 100 : 0,
    swapUsedPercent:
      h.memory.swapTotalBytes > 0 ? (h.memory.swapUsedBytes / h.memory.swapTotalBytes) * 100 : 0,
  };
}
