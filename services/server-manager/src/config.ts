/** server-manager's settings, from env, validated once: a bad value exits 2 naming it. */
import { ConfigError, type EnvReader, type RuntimeDefaults } from "@lucid-rdp/runtime";
import { readStorageConfig, type StorageConfig } from "@lucid-rdp/storage";
import { defaultPortRange, isUsableRange, type PortRange } from "./domain/port-pool.js";

export const runtimeDefaults: RuntimeDefaults = { serviceName: "server-manager", port: 8081 };

export interface StaticNode {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface ServerManagerConfig {
  readonly storage: StorageConfig;
  /** Nodes listed in config (SERVER_MANAGER_NODES), besides those that register themselves. */
  readonly staticNodes: readonly StaticNode[];
  readonly staticMaxServers: number;
  readonly staticPortRange: PortRange;
  readonly reaperIntervalMs: number;
  /** A server PROVISIONING longer than this is repaired or failed by the reaper. */
  readonly provisioningTimeoutMs: number;
  /** Deadline of each call to a node's xrdp-integration. */
  readonly nodeDeadlineMs: number;
  /** Graceful DeleteServer waits at most this long for connections to end. */
  readonly defaultDeleteGraceMs: number;
  /** A bearer token for calls to nodes, when they require auth (MESH_TOKEN). */
  readonly meshToken?: string;
  /** How many nodes may register (SERVER_MANAGER_MAX_NODES). */
  readonly maxNodes: number;
  /** The resource-monitor of a server's host (RESOURCE_MONITOR_URL, `{host}` substituted). */
  readonly resourceMonitorUrl?: string;
}

const nodeId = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const hostPort = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:]{2,39}\]):([0-9]{1,5})$/;

function readStaticNodes(r: EnvReader): StaticNode[] {
  const accepts = "a comma-separated list of node-id=host:port (e.g. node-1=10.0.0.5:3389)";
  const raw = r.list("SERVER_MANAGER_NODES", { accepts });
  const nodes = raw.map((item) => {
    const [id, addr] = item.split("=");
    const m = hostPort.exec(addr ?? "");
    const port = Number(m?.[2]);
    if (id === undefined || !nodeId.test(id) || m === null || port < 1 || port > 65535) {
      throw new ConfigError("SERVER_MANAGER_NODES", accepts, r.raw("SERVER_MANAGER_NODES"));
    }
    return { id, host: (m[1] as string).replace(/^\[|\]$/g, ""), port };
  });
  if (new Set(nodes.map((n) => n.id)).size !== nodes.length) {
    throw new ConfigError(
      "SERVER_MANAGER_NODES",
      "distinct node ids",
      r.raw("SERVER_MANAGER_NODES"),
    );
  }
  return nodes;
}

function readRange(r: EnvReader): PortRange {
  const v = r.raw("SERVER_MANAGER_STATIC_PORT_RANGE");
  if (v === undefined) return defaultPortRange;
  const m = /^([0-9]{4,5})-([0-9]{4,5})$/.exec(v);
  const range = m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
  if (range === undefined || !isUsableRange(range)) {
    throw new ConfigError(
      "SERVER_MANAGER_STATIC_PORT_RANGE",
      "start-end within 1024-65535, start <= end, clear of 5900-6299 (sesman's displays)",
      v,
    );
  }
  return range;
}

export function readServerManagerConfig(r: EnvReader): ServerManagerConfig {
  return {
    storage: readStorageConfig(r),
    staticNodes: readStaticNodes(r),
    staticMaxServers: r.int("SERVER_MANAGER_STATIC_MAX_SERVERS", {
      default: 16,
      min: 1,
      max: 1000,
    }),
    staticPortRange: readRange(r),
    reaperIntervalMs: r.int("SERVER_MANAGER_REAPER_INTERVAL_MS", {
      default: 10_000,
      min: 100,
      max: 3_600_000,
    }),
    provisioningTimeoutMs: r.int("SERVER_MANAGER_PROVISIONING_TIMEOUT_MS", {
      default: 60_000,
      min: 1_000,
      max: 3_600_000,
    }),
    nodeDeadlineMs: r.int("SERVER_MANAGER_NODE_DEADLINE_MS", {
      default: 30_000,
      min: 100,
      max: 600_000,
    }),
    defaultDeleteGraceMs: r.int("SERVER_MANAGER_DELETE_GRACE_MS", {
      default: 30_000,
      min: 0,
      max: 3_600_000,
    }),
    meshToken: r.secret("MESH_TOKEN", { minLength: 16 }),
    maxNodes: r.int("SERVER_MANAGER_MAX_NODES", { default: 1000, min: 1, max: 100_000 }),
    resourceMonitorUrl: r.string("RESOURCE_MONITOR_URL", {
      pattern: /^https?:\/\/[A-Za-z0-9.{}:[\]-]+(:[0-9]{1,5})?\/?$/,
      accepts:
        "an http(s) URL, where {host} stands for the server's host (e.g. http://{host}:8090)",
    }),
  };
}
