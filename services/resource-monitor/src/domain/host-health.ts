/**
 * Host health in the style of Azure Virtual Desktop's session host health checks: named checks,
 * each PASSING, FAILING or UNKNOWN, summed up as HEALTHY, DEGRADED or UNHEALTHY (the names of
 * HealthCheckStatus and HostHealthStatus in proto/lucid/rdp/v1/metrics.proto, without prefix).
 *
 * The checks, ordered by name as HostHealth lists them:
 * - `disk_space`: FAILING and fatal when a critical mount ("/" and the mount holding the state
 *   directory, which the service adds with `mountPointOf`) is at least `diskFatalPercent` full;
 *   FAILING, not fatal, when any filesystem is at least `diskWarnPercent` full.
 * - `memory_pressure`: FAILING and fatal when less than `memoryFatalAvailablePercent` of memory is
 *   available; FAILING, not fatal, below `memoryWarnAvailablePercent` or with swap at least
 *   `swapWarnPercent` used.
 * - `sampling`: FAILING and fatal when the last sample is older than `staleIntervals` sampling
 *   intervals (or, before any sample, when sampling started longer ago than that); UNKNOWN before
 *   the first sample until then.
 * - `xrdp_installed`: FAILING and fatal when xrdp is not installed.
 * `disk_space` and `memory_pressure` are UNKNOWN without a fresh sample (none yet, or stale).
 *
 * `fatal` says whether the check's failure makes the host UNHEALTHY: for a FAILING check, whether
 * this failure does; for a PASSING or UNKNOWN check, whether a failure could (true for all four).
 * The summary: UNHEALTHY when a fatal check fails; otherwise DEGRADED when a check fails or is
 * UNKNOWN; otherwise HEALTHY. Servers are placed only on hosts that are not UNHEALTHY.
 */

/** HealthCheckStatus of the proto. */
export type HealthCheckStatus = "PASSING" | "FAILING" | "UNKNOWN";
/** HostHealthStatus of the proto. */
export type HostHealthStatus = "HEALTHY" | "DEGRADED" | "UNHEALTHY";
/** The checks; the contract says more may be added. */
export type HealthCheckName = "disk_space" | "memory_pressure" | "sampling" | "xrdp_installed";

/** One check's outcome (HealthCheck in the proto). */
export interface HealthCheck {
  readonly name: HealthCheckName;
  readonly status: HealthCheckStatus;
  readonly fatal: boolean;
  /** Why it fails or is unknown, for people; empty when passing. */
  readonly message: string;
  readonly lastCheckTime: Date;
  /** When the status last changed (kept from `previous` while it does not). */
  readonly lastTransitionTime: Date;
}

/** The outcome of all checks (HostHealth in the proto, without the hostname). */
export interface HostHealthResult {
  readonly status: HostHealthStatus;
  /** Ordered by name. */
  readonly checks: readonly HealthCheck[];
  readonly checkTime: Date;
}

/** What the checks read of the latest host sample. Percentages are 0 to 100. */
export interface HostHealthSnapshot {
  readonly filesystems: readonly {
    readonly mountPoint: string;
    readonly usedPercent: number;
  }[];
  readonly memoryAvailablePercent: number;
  /** 0 without swap. */
  readonly swapUsedPercent: number;
}

/** Where the checks draw their lines. */
export interface HostHealthThresholds {
  /** The sampling interval. */
  readonly sampleIntervalMs: number;
  /**
   * Sampling is stalled when the last sample is older than this many intervals.
   * @default 3
   */
  readonly staleIntervals?: number;
  /**
   * A critical mount this full (percent) is fatal.
   * @default 95
   */
  readonly diskFatalPercent?: number;
  /**
   * Any filesystem this full (percent) degrades the host.
   * @default 90
   */
  readonly diskWarnPercent?: number;
  /**
   * The mounts whose filling up is fatal; the service adds the state directory's mount.
   * @default ["/"]
   */
  readonly criticalMounts?: readonly string[];
  /**
   * Less available memory than this (percent) is fatal.
   * @default 5
   */
  readonly memoryFatalAvailablePercent?: number;
  /**
   * Less available memory than this (percent) degrades the host.
   * @default 10
   */
  readonly memoryWarnAvailablePercent?: number;
  /**
   * Swap this full (percent) degrades the host.
   * @default 80
   */
  readonly swapWarnPercent?: number;
}

export interface HostHealthInput {
  /** The latest sample; absent before the first. */
  readonly host?: HostHealthSnapshot;
  readonly xrdpInstalled: boolean;
  /** When the latest sample was taken; absent before the first. */
  readonly lastSampleTime?: Date;
  /** When sampling started; before the first sample, `sampling` fails once it is stale. */
  readonly startTime?: Date;
  readonly now: Date;
  readonly thresholds: HostHealthThresholds;
  /** The previous result, to carry each check's `lastTransitionTime`. */
  readonly previous?: HostHealthResult;
}

type Outcome = Pick<HealthCheck, "name" | "status" | "fatal" | "message">;

/** Runs every check and sums them up. */
export function evaluateHostHealth(input: HostHealthInput): HostHealthResult {
  const { now, thresholds: t } = input;
  const staleAfterMs = (t.staleIntervals ?? 3) * t.sampleIntervalMs;
  const since = (d: Date) => now.getTime() - d.getTime();

  let sampling: Outcome;
  if (input.lastSampleTime !== undefined) {
    const age = since(input.lastSampleTime);
    sampling =
      age > staleAfterMs
        ? failing(
            "sampling",
            true,
            `no sample for ${seconds(age)} (interval ${seconds(t.sampleIntervalMs)})`,
          )
        : passing("sampling");
  } else if (input.startTime !== undefined && since(input.startTime) > staleAfterMs) {
    sampling = failing("sampling", true, `no sample taken in ${seconds(since(input.startTime))}`);
  } else {
    sampling = { name: "sampling", status: "UNKNOWN", fatal: true, message: "no sample yet" };
  }

  const host = sampling.status === "PASSING" ? input.host : undefined;
  const unknown = (name: HealthCheckName): Outcome => ({
    name,
    status: "UNKNOWN",
    fatal: true,
    message: "no fresh host sample",
  });

  const outcomes: Outcome[] = [
    host === undefined ? unknown("disk_space") : diskSpace(host, t),
    host === undefined ? unknown("memory_pressure") : memoryPressure(host, t),
    sampling,
    input.xrdpInstalled
      ? passing("xrdp_installed")
      : failing("xrdp_installed", true, "xrdp is not installed"),
  ];

  const before = new Map(input.previous?.checks.map((c) => [c.name, c]));
  const checks = outcomes.map((o): HealthCheck => {
    const prev = before.get(o.name);
    const lastTransitionTime =
      prev !== undefined && prev.status === o.status ? prev.lastTransitionTime : now;
    return { ...o, lastCheckTime: now, lastTransitionTime };
  });

  const status: HostHealthStatus = checks.some((c) => c.status === "FAILING" && c.fatal)
    ? "UNHEALTHY"
    : checks.some((c) => c.status !== "PASSING")
      ? "DEGRADED"
      : "HEALTHY";
  return { status, checks, checkTime: now };
}

/**
 * The mount point a path lives on: the longest of `mountPoints` that contains it, compared by
 * whole path segments (`/var/lib` is not on `/var/li`); undefined when none does.
 */
export function mountPointOf(path: string, mountPoints: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const m of mountPoints) {
    const contains = m === "/" || path === m || path.startsWith(m.endsWith("/") ? m : `${m}/`);
    if (contains && (best === undefined || m.length > best.length)) best = m;
  }
  return best;
}

function diskSpace(host: HostHealthSnapshot, t: HostHealthThresholds): Outcome {
  const fatalAt = t.diskFatalPercent ?? 95;
  const warnAt = t.diskWarnPercent ?? 90;
  const critical = new Set(t.criticalMounts ?? ["/"]);
  const full = host.filesystems
    .filter(
      (f) => f.usedPercent >= warnAt || (critical.has(f.mountPoint) && f.usedPercent >= fatalAt),
    )
    .sort((a, b) => b.usedPercent - a.usedPercent);
  if (full.length === 0) return passing("disk_space");
  const fatal = full.some((f) => critical.has(f.mountPoint) && f.usedPercent >= fatalAt);
  return failing(
    "disk_space",
    fatal,
    full.map((f) => `${f.mountPoint} is ${percent(f.usedPercent)} full`).join("; "),
  );
}

function memoryPressure(host: HostHealthSnapshot, t: HostHealthThresholds): Outcome {
  const available = host.memoryAvailablePercent;
  const availableText = `only ${percent(available)} of memory available`;
  if (available < (t.memoryFatalAvailablePercent ?? 5)) {
    return failing("memory_pressure", true, availableText);
  }
  const problems: string[] = [];
  if (available < (t.memoryWarnAvailablePercent ?? 10)) problems.push(availableText);
  if (host.swapUsedPercent >= (t.swapWarnPercent ?? 80)) {
    problems.push(`swap is ${percent(host.swapUsedPercent)} used`);
  }
  return problems.length === 0
    ? passing("memory_pressure")
    : failing("memory_pressure", false, problems.join("; "));
}

function passing(name: HealthCheckName): Outcome {
  return { name, status: "PASSING", fatal: true, message: "" };
}

function failing(name: HealthCheckName, fatal: boolean, message: string): Outcome {
  return { name, status: "FAILING", fatal, message };
}

/** A percentage for people, truncated to one decimal so it never reads past a threshold. */
function percent(p: number): string {
  const truncated = Math.floor(p * 10) / 10;
  return `${Number.isInteger(truncated) ? truncated : truncated.toFixed(1)}%`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}
