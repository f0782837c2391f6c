/** xrdp-integration's settings, from env, validated once: a bad value exits 2 naming it. */
import { accessSync, constants, statSync } from "node:fs";
import { isIP } from "node:net";
import { hostname, tmpdir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import {
  ConfigError,
  type EnvReader,
  type RuntimeConfig,
  type RuntimeDefaults,
  readNodeId,
} from "@lucid-rdp/runtime";
import { readStorageConfig, type StorageConfig } from "@lucid-rdp/storage";
import type { SupervisorTimings } from "./supervisor/supervisor-options.js";

export const runtimeDefaults: RuntimeDefaults = { serviceName: "xrdp-integration", port: 3389 };

export interface XrdpIntegrationConfig extends SupervisorTimings {
  readonly storage: StorageConfig;
  /** The node's stable name (NODE_ID), as server-manager knows it. */
  readonly nodeId: string;
  /** Absolute path of xrdp, or undefined with the reason it is missing. */
  readonly xrdpBin?: string;
  readonly xrdpMissingReason?: string;
  readonly sesmanBin?: string;
  /**
   * Whether this service runs an xrdp-sesman per instance and owns the desktops
   * (XRDP_SESMAN=managed), or leaves logins to the host's own sesman at 127.0.0.1 (off).
   */
  readonly sesman: "managed" | "off";
  /** The X displays instances' desktops may use (XRDP_DISPLAY_RANGE), inclusive. */
  readonly displayRange: { readonly first: number; readonly last: number };
  readonly stateDir: string;
  readonly listenAddress: string;
  readonly maxInstances: number;
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  /**
   * How many instance keys (RSA 3072) to keep generated ahead of time (XRDP_TLS_KEY_POOL); 0 turns
   * the pool off. Unused when XRDP_TLS_CERT and XRDP_TLS_KEY give every instance one certificate.
   */
  readonly tlsKeyPool: number;
  readonly connectionPollMs: number;
  /**
   * Whether SIGTERM stops every instance (true) or leaves them, and their desktops, to be adopted
   * by the next start. Default: leave them with MONGODB_URI set, stop them without (a one-machine
   * mesh stops everything it started; with the embedded SQLite file, `false` keeps the desktops
   * for the next start to adopt, as with MongoDB).
   */
  readonly stopOnShutdown: boolean;
  /** Where ReportConnectionEvent goes; unset: connection changes go to the bus only. */
  readonly sessionControllerUrl?: string;
  /** A bearer token (a JWT with the service role) for calls to peers (MESH_TOKEN). */
  readonly meshToken?: string;
  /** Floor knobs: what requested settings may loosen up to. */
  readonly allowRdpSecurity: boolean;
  readonly allowRootLogin: boolean;
  /**
   * Where RegisterNode heartbeats go (SERVER_MANAGER_URL); unset: no registration, and the node
   * must be listed statically in server-manager's config.
   */
  readonly serverManagerUrl?: string;
  /** The host server-manager uses to reach this service's API (NODE_ADVERTISE_HOST). */
  readonly advertiseHost: string;
  /** The host RDP clients connect to (NODE_RDP_HOST). */
  readonly rdpHost: string;
  /** The ports servers on this node may use (NODE_PORT_RANGE), inclusive, clear of 5900-6299. */
  readonly portRange: { readonly start: number; readonly end: number };
  /** How long the node's lease lasts unless renewed (NODE_HEARTBEAT_TTL_MS). */
  readonly heartbeatTtlMs: number;
  /** The node's labels (NODE_LABELS). */
  readonly nodeLabels: Readonly<Record<string, string>>;
  /**
   * The RDP front door (RDP_DOOR=on): the service's own port also speaks RDP and relays each
   * connection, by its routing token, to its instance's xrdp, which listens on loopback only.
   * Off: clients connect to each instance's port of NODE_PORT_RANGE.
   */
  readonly rdpDoor: boolean;
  /** How many READY, unassigned instances to keep warm (WARM_POOL_SIZE; needs the door). */
  readonly warmPoolSize: number;
  /** The door's connect limit per source address: connections a minute, and the burst. */
  readonly doorRatePerMinute: number;
  readonly doorBurst: number;
}

/** What xrdp-sesman takes for itself: displays 5900+ (VNC), X11 6000+, chansrv 6200+. */
const sesmanPorts = { start: 5900, end: 6299 } as const;
const hostAccepts = "a host name or IP address (letters, digits, dots, dashes, colons; max 253)";
const hostLabel = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True for an IP address or a DNS host name of at most 253 characters. */
function isHost(s: string): boolean {
  if (s.length > 253) return false;
  if (isIP(s) !== 0) return true;
  return s.split(".").every((l) => hostLabel.test(l));
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "::0";
}

/**
 * A host setting: the env value if set (always checked), else `fallback`, which is checked only
 * when registration is on (a node that does not register never sends it anywhere).
 */
function readHost(
  r: EnvReader,
  variable: string,
  fallback: { value: string; from: string },
  registering: boolean,
): string {
  const set = r.raw(variable);
  if (set !== undefined) {
    if (!isHost(set)) throw new ConfigError(variable, hostAccepts, set);
    return set;
  }
  if (registering && !isHost(fallback.value)) {
    throw new ConfigError(
      variable,
      `${hostAccepts}; its default (${fallback.from}) is ${JSON.stringify(fallback.value)}, so set it explicitly`,
    );
  }
  return fallback.value;
}

/**
 * The TCP ports xrdp-sesman 0.9 binds to test whether display N is free: "59%2.2d", "60%2.2d" and
 * "62%2.2d" of N (sesman/session.c), i.e. 5900+N below 100 and 59N above.
 */
export function displayPorts(d: { first: number; last: number }): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const prefix of ["59", "60", "62"]) {
    const lowLast = Math.min(d.last, 99);
    if (d.first <= lowLast) {
      out.push({ start: Number(`${prefix}00`) + d.first, end: Number(`${prefix}00`) + lowLast });
    }
    if (d.last >= 100) {
      const from = Math.max(d.first, 100);
      out.push({ start: Number(`${prefix}${from}`), end: Number(`${prefix}${d.last}`) });
    }
  }
  return out;
}

/** XRDP_DISPLAY_RANGE: "first-last" within 1-999, at least 2 displays. */
function readDisplayRange(r: EnvReader): { first: number; last: number } {
  const name = "XRDP_DISPLAY_RANGE";
  const v = r.raw(name) ?? "10-299";
  const shape = "an X display range first-last such as 10-299, from 1 to 999, at least 2 displays";
  const m = /^(\d{1,3})\s*-\s*(\d{1,3})$/.exec(v);
  if (m === null) throw new ConfigError(name, shape, v);
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first < 1 || last > 999 || last <= first) throw new ConfigError(name, shape, v);
  return { first, last };
}

/** NODE_PORT_RANGE: "start-end" within 1024-65535, at most 10000 ports, clear of sesman's ports. */
function readPortRange(
  r: EnvReader,
  apiPort: number | undefined,
  displays: { first: number; last: number },
): { start: number; end: number } {
  const name = "NODE_PORT_RANGE";
  const v = r.raw(name) ?? "3390-3489";
  const m = /^(\d{1,5})\s*-\s*(\d{1,5})$/.exec(v);
  const shape = "a port range start-end such as 3390-3489, both from 1024 to 65535";
  if (m === null) throw new ConfigError(name, shape, v);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start < 1024 || end > 65535 || end < 1024 || start > 65535) {
    throw new ConfigError(name, shape, v);
  }
  if (start > end) throw new ConfigError(name, `${shape}, start not above end`, v);
  if (end - start >= 10_000) throw new ConfigError(name, `${shape}, at most 10000 ports`, v);
  if (start <= sesmanPorts.end && end >= sesmanPorts.start) {
    throw new ConfigError(
      name,
      `${shape}, clear of ${sesmanPorts.start}-${sesmanPorts.end}, which xrdp-sesman uses (VNC displays 5900+, X11 6000+, chansrv 6200+)`,
      v,
    );
  }
  for (const taken of displayPorts(displays)) {
    if (start <= taken.end && end >= taken.start) {
      throw new ConfigError(
        name,
        `${shape}, clear of ${taken.start}-${taken.end}, which xrdp-sesman probes for the X displays of XRDP_DISPLAY_RANGE ${displays.first}-${displays.last}`,
        v,
      );
    }
  }
  if (apiPort !== undefined && apiPort !== 0 && apiPort >= start && apiPort <= end) {
    throw new ConfigError(name, `${shape}, not holding this service's own PORT ${apiPort}`, v);
  }
  return { start, end };
}

/** NODE_LABELS: comma-separated key=value pairs, at most 32, with the contract's rules. */
function readLabels(r: EnvReader): Record<string, string> {
  const name = "NODE_LABELS";
  const accepts =
    "at most 32 comma-separated key=value pairs: keys of 1-63 [a-z0-9_] starting with a letter, values of at most 128 [A-Za-z0-9_.:/@+=-], each key once";
  const v = r.raw(name);
  if (v === undefined) return {};
  const labels: Record<string, string> = {};
  const pairs = v
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (pairs.length > 32) throw new ConfigError(name, accepts, v);
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq).trim();
    const value = eq < 0 ? undefined : pair.slice(eq + 1).trim();
    if (
      value === undefined ||
      !/^[a-z][a-z0-9_]{0,62}$/.test(key) ||
      !/^[A-Za-z0-9_.:/@+=-]{0,128}$/.test(value) ||
      Object.hasOwn(labels, key)
    ) {
      throw new ConfigError(name, accepts, v);
    }
    labels[key] = value;
  }
  return labels;
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

/**
 * Reads the service's settings; `runtime` (the shared settings) supplies the defaults that derive
 * from HOST and PORT.
 */
export function readXrdpIntegrationConfig(
  r: EnvReader,
  runtime: Pick<RuntimeConfig, "host" | "port"> = { host: "127.0.0.1", port: 0 },
): XrdpIntegrationConfig {
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
  const listenAddress =
    r.string("XRDP_LISTEN_ADDRESS", {
      default: "127.0.0.1",
      pattern: ipv4,
      accepts: "an IPv4 address such as 127.0.0.1 or 0.0.0.0",
    }) ?? "127.0.0.1";
  const rdpDoor = r.oneOf("RDP_DOOR", ["on", "off"] as const, "on") === "on";
  if (rdpDoor && listenAddress !== "127.0.0.1") {
    throw new ConfigError(
      "XRDP_LISTEN_ADDRESS",
      "127.0.0.1 while RDP_DOOR=on (clients reach instances through the door, and xrdp listens on loopback only); set RDP_DOOR=off to expose each instance's port",
      listenAddress,
    );
  }
  const warmPoolSize = r.int("WARM_POOL_SIZE", { default: 0, min: 0, max: 64 });
  if (warmPoolSize > 0 && !rdpDoor) {
    throw new ConfigError(
      "WARM_POOL_SIZE",
      "0 while RDP_DOOR=off (a warm instance is handed out behind the door, where its port does not matter)",
      String(warmPoolSize),
    );
  }
  const serverManagerUrl = r.url("SERVER_MANAGER_URL");
  const registering = serverManagerUrl !== undefined;
  const advertiseHost = readHost(
    r,
    "NODE_ADVERTISE_HOST",
    isWildcard(runtime.host)
      ? { value: hostname(), from: `the machine's host name, as HOST=${runtime.host}` }
      : { value: runtime.host, from: "HOST" },
    registering,
  );
  const rdpHost = readHost(
    r,
    "NODE_RDP_HOST",
    // Behind the door, clients connect to the service's own address.
    rdpDoor
      ? { value: advertiseHost, from: "NODE_ADVERTISE_HOST, as RDP_DOOR=on" }
      : isWildcard(listenAddress)
        ? { value: advertiseHost, from: "NODE_ADVERTISE_HOST, as XRDP_LISTEN_ADDRESS=0.0.0.0" }
        : { value: listenAddress, from: "XRDP_LISTEN_ADDRESS" },
    registering,
  );
  const nodeId = readNodeId(r);
  const storage = readStorageConfig(r);
  const displayRange = readDisplayRange(r);
  return {
    // A node's instances are its own: each node keeps them in a database of its own (MONGODB_DB
    // plus the node id), so nodes sharing one MongoDB never see each other's ports or processes.
    storage: {
      ...storage,
      mongoDb: `${storage.mongoDb}_${nodeId.replaceAll("-", "_")}`.slice(0, 63),
    },
    nodeId,
    xrdpBin: xrdp.path,
    xrdpMissingReason: xrdp.missing,
    sesmanBin: sesman.path,
    sesman: r.oneOf("XRDP_SESMAN", ["managed", "off"] as const, "managed"),
    displayRange,
    stateDir,
    listenAddress,
    maxInstances: r.int("XRDP_MAX_INSTANCES", { default: 16, min: 1, max: 1000 }),
    tls: certPath !== undefined && keyPath !== undefined ? { certPath, keyPath } : undefined,
    tlsKeyPool: r.int("XRDP_TLS_KEY_POOL", { default: 2, min: 0, max: 32 }),
    readinessTimeoutMs: r.int("XRDP_READINESS_TIMEOUT_MS", {
      default: 15_000,
      min: 100,
      max: 600_000,
    }),
    stopGraceMs: r.int("XRDP_STOP_GRACE_MS", { default: 10_000, min: 0, max: 300_000 }),
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
    stopOnShutdown: r.bool("XRDP_STOP_ON_SHUTDOWN", storage.mongoUri === undefined),
    sessionControllerUrl: r.url("SESSION_CONTROLLER_URL"),
    meshToken: r.secret("MESH_TOKEN", { minLength: 16 }),
    allowRdpSecurity: r.bool("XRDP_ALLOW_RDP_SECURITY", false),
    allowRootLogin: r.bool("XRDP_ALLOW_ROOT_LOGIN", false),
    serverManagerUrl,
    advertiseHost,
    rdpHost,
    portRange: readPortRange(r, runtime.port, displayRange),
    heartbeatTtlMs: r.int("NODE_HEARTBEAT_TTL_MS", { default: 15_000, min: 5_000, max: 300_000 }),
    nodeLabels: readLabels(r),
    rdpDoor,
    warmPoolSize,
    doorRatePerMinute: r.int("RDP_DOOR_RATE_PER_MINUTE", { default: 30, min: 1, max: 100_000 }),
    doorBurst: r.int("RDP_DOOR_BURST", { default: 10, min: 1, max: 100_000 }),
  };
}
