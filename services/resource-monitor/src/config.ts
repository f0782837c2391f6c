/** resource-monitor's settings, from env, validated once: a bad value exits 2 naming it. */
import { type EnvReader, type RuntimeDefaults, readNodeId } from "@lucid-rdp/runtime";
import { readStorageConfig, type StorageConfig } from "@lucid-rdp/storage";

export const runtimeDefaults: RuntimeDefaults = { serviceName: "resource-monitor", port: 8090 };

export interface ResourceMonitorConfig {
  readonly storage: StorageConfig;
  /** The node this monitor watches (NODE_ID), the `node` label of its series. */
  readonly nodeId: string;
  /** How often the host and the servers' processes are sampled (MONITOR_INTERVAL_MS). */
  readonly intervalMs: number;
  /** How many samples of history each series keeps in memory (MONITOR_HISTORY_SAMPLES). */
  readonly historySamples: number;
  /** This node's xrdp-integration, to map servers to their processes (XRDP_INTEGRATION_URL). */
  readonly xrdpIntegrationUrl?: string;
  /** To map sessions to servers (SESSION_CONTROLLER_URL). */
  readonly sessionControllerUrl?: string;
  readonly meshToken?: string;
  /** /proc, replaceable for tests (MONITOR_PROC_ROOT). */
  readonly procRoot: string;
  /** Host health thresholds. */
  readonly diskFullRatio: number;
  readonly memoryLowRatio: number;
  /** The xrdp binary whose presence is a health check (XRDP_BIN). */
  readonly xrdpBin: string;
}

export function readResourceMonitorConfig(r: EnvReader): ResourceMonitorConfig {
  const ratio = (name: string, def: number) =>
    r.int(name, { default: Math.round(def * 100), min: 1, max: 100 }) / 100;
  return {
    storage: readStorageConfig(r),
    nodeId: readNodeId(r),
    intervalMs: r.int("MONITOR_INTERVAL_MS", { default: 5_000, min: 100, max: 600_000 }),
    historySamples: r.int("MONITOR_HISTORY_SAMPLES", { default: 720, min: 1, max: 100_000 }),
    xrdpIntegrationUrl: r.url("XRDP_INTEGRATION_URL"),
    sessionControllerUrl: r.url("SESSION_CONTROLLER_URL"),
    meshToken: r.secret("MESH_TOKEN", { minLength: 16 }),
    procRoot:
      r.string("MONITOR_PROC_ROOT", {
        default: "/proc",
        pattern: /^\/[A-Za-z0-9._/-]*$/,
        accepts: "an absolute directory path",
      }) ?? "/proc",
    diskFullRatio: ratio("MONITOR_DISK_FULL_PERCENT", 0.95),
    memoryLowRatio: ratio("MONITOR_MEMORY_LOW_PERCENT", 0.05),
    xrdpBin:
      r.string("XRDP_BIN", {
        default: "/usr/sbin/xrdp",
        pattern: /^\/[A-Za-z0-9._/-]+$/,
        accepts: "an absolute path",
      }) ?? "/usr/sbin/xrdp",
  };
}
