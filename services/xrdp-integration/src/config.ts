/** xrdp-integration's settings, from env, validated once: a bad value exits 2 naming it. */
import { accessSync, constants, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import { ConfigError, type EnvReader, type RuntimeDefaults } from "@lucid-rdp/runtime";
import { readStorageConfig, type StorageConfig } from "@lucid-rdp/storage";

export const runtimeDefaults: RuntimeDefaults = { serviceName: "xrdp-integration", port: 3389 };

export interface XrdpIntegrationConfig {
  readonly storage: StorageConfig;
  /** The node's stable name (NODE_ID), as server-manager knows it. */
  readonly nodeId: string;
  /** Absolute path of xrdp, or undefined with the reason it is missing. */
  readonly xrdpBin?: string;
  readonly xrdpMissingReason?: string;
  readonly sesmanBin?: string;
  /** Whether this service runs the host's xrdp-sesman (XRDP_SESMAN=managed) or not (off). */
  readonly sesman: "managed" | "off";
  readonly stateDir: string;
  readonly listenAddress: string;
  readonly maxInstances: number;
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  readonly readinessTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly restartBackoffMs: number;
  readonly maxRestartBackoffMs: number;
  readonly crashLoopExits: number;
  readonly crashLoopWindowMs: number;
  readonly healthIntervalMs: number;
  readonly connectionPollMs: number;
  /** Whether SIGTERM stops every instance (true) or leaves them to be adopted by the next start. */
  readonly stopOnShutdown: boolean;
  /** Where ReportConnectionEvent goes; unset: connection changes go to the bus only. */
  readonly sessionControllerUrl?: string;
  /** Floor knobs: what requested settings may loosen up to. */
  readonly allowRdpSecurity: boolean;
  readonly allowRootLogin: boolean;
}

const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Finds an executable: the env value if set (must be absolute), else on PATH and /usr/sbin. */
function findBinary(
  r: EnvReader,
  variable: string,
  name: string,
): { path?: string; missing?: string } {
  const set = r.raw(variable);
  const candidates = set
    ? [set]
    : [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"]
        .filter((d) => d !== "")
        .map((d) => join(d, name));
  if (set !== undefined && !isAbsolute(set)) {
    throw new ConfigError(variable, `an absolute path to the ${name} binary`, set);
  }
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return { path: c };
    } catch {
      // next
    }
  }
  return {
    missing: set
      ? `${variable}=${set} is not an executable file`
      : `${name} is not installed (not on PATH or in /usr/sbin): install xrdp or set ${variable}`,
  };
}

export function readXrdpIntegrationConfig(r: EnvReader): XrdpIntegrationConfig {
  const xrdp = findBinary(r, "XRDP_BIN", "xrdp");
  const sesman = findBinary(r, "XRDP_SESMAN_BIN", "xrdp-sesman");
  const certPath = r.raw("XRDP_TLS_CERT");
  const keyPath = r.raw("XRDP_TLS_KEY");
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new ConfigError(
      certPath === undefined ? "XRDP_TLS_CERT" : "XRDP_TLS_KEY",
      "XRDP_TLS_CERT and XRDP_TLS_KEY set together",
    );
  }
  const absolutePath = /^\/[A-Za-z0-9._/-]+$/;
  for (const [name, v] of [
    ["XRDP_TLS_CERT", certPath],
    ["XRDP_TLS_KEY", keyPath],
  ] as const) {
    if (v !== undefined && (!absolutePath.test(v) || v.includes(".."))) {
      throw new ConfigError(name, "an absolute path of letters, digits and ._/- without ..", v);
    }
  }
  const stateDir =
    r.string("XRDP_STATE_DIR", {
      pattern: /^\/[A-Za-z0-9._/-]{1,200}$/,
      accepts: "an absolute directory path of letters, digits and ._/- (max 200)",
    }) ?? join(tmpdir(), `lucid-xrdp-${process.getuid?.() ?? 0}`);
  if (stateDir.includes(".."))
    throw new ConfigError("XRDP_STATE_DIR", "a path without ..", stateDir);
  return {
    storage: readStorageConfig(r),
    nodeId:
      r.string("NODE_ID", {
        default: hostname()
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, "-")
          .slice(0, 63),
        pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
        accepts: "1-63 lowercase letters, digits and dashes",
      }) ?? "node",
    xrdpBin: xrdp.path,
    xrdpMissingReason: xrdp.missing,
    sesmanBin: sesman.path,
    sesman: r.oneOf("XRDP_SESMAN", ["managed", "off"] as const, "managed"),
    stateDir,
    listenAddress:
      r.string("XRDP_LISTEN_ADDRESS", {
        default: "127.0.0.1",
        pattern: ipv4,
        accepts: "an IPv4 address such as 127.0.0.1 or 0.0.0.0",
      }) ?? "127.0.0.1",
    maxInstances: r.int("XRDP_MAX_INSTANCES", { default: 16, min: 1, max: 1000 }),
    tls: certPath !== undefined && keyPath !== undefined ? { certPath, keyPath } : undefined,
    readinessTimeoutMs: r.int("XRDP_READINESS_TIMEOUT_MS", {
      default: 15_000,
      min: 100,
      max: 600_000,
    }),
    stopGraceMs: r.int("XRDP_STOP_GRACE_MS", { default: 5_000, min: 0, max: 300_000 }),
    restartBackoffMs: r.int("XRDP_RESTART_BACKOFF_MS", { default: 500, min: 10, max: 60_000 }),
    maxRestartBackoffMs: r.int("XRDP_MAX_RESTART_BACKOFF_MS", {
      default: 30_000,
      min: 10,
      max: 600_000,
    }),
    crashLoopExits: r.int("XRDP_CRASH_LOOP_EXITS", { default: 5, min: 1, max: 100 }),
    crashLoopWindowMs: r.int("XRDP_CRASH_LOOP_WINDOW_MS", {
      default: 60_000,
      min: 1_000,
      max: 3_600_000,
    }),
    healthIntervalMs: r.int("XRDP_HEALTH_INTERVAL_MS", { default: 5_000, min: 100, max: 600_000 }),
    connectionPollMs: r.int("XRDP_CONNECTION_POLL_MS", { default: 1_000, min: 50, max: 60_000 }),
    stopOnShutdown: r.bool("XRDP_STOP_ON_SHUTDOWN", true),
    sessionControllerUrl: r.url("SESSION_CONTROLLER_URL"),
    allowRdpSecurity: r.bool("XRDP_ALLOW_RDP_SECURITY", false),
    allowRootLogin: r.bool("XRDP_ALLOW_ROOT_LOGIN", false),
  };
}
