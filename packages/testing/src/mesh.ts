/**
 * A real mesh for full-process tests: ONE redis-server and ONE FerretDB shared by every service,
 * server-manager replicas, xrdp-integration nodes on real xrdp, (once it exists) session-controller
 * replicas and, when asked for, one resource-monitor per node, each a child process run from its
 * src/main.ts as its image would run it.
 *
 * Start order follows the wiring: server-managers first (PORT=0, so their URLs are known only once
 * they listen), then session-controllers (they call server-manager), then the nodes, which register
 * with server-manager #0 (SERVER_MANAGER_URL) and report connections to session-controller #0, then
 * the resource-monitors, each watching its node (XRDP_INTEGRATION_URL).
 * {@link startMesh} resolves once every service answers /readyz with 200 and server-manager lists
 * every node HEALTHY.
 *
 * ```ts
 * const mesh = await startMesh({ serverManagers: 2, xrdpNodes: 1 });
 * try {
 *   await mesh.serverManager(1).createServer({ requestId, owner: "alice" });
 * } finally {
 *   await mesh.close();
 * }
 * ```
 *
 * The nodes run with XRDP_SESMAN=off by default: their xrdp answers RDP, but nobody can log in to a
 * desktop. With {@link MeshOptions.desktops} each node runs an xrdp-sesman per instance
 * (XRDP_SESMAN=managed) on X displays of its own, so a real RDP client can log in as the session's
 * user (a local account), which is what makes a session ACTIVE.
 *
 * Missing redis-server, FerretDB or xrdp (and, with desktops, xrdp-sesman or xorgxrdp): under
 * CI=true startMesh throws a plain Error (the test fails); otherwise it throws a
 * {@link MissingToolError}, which the test reports and skips.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  NodeHealth,
  ResourceMonitorService,
  ServerManagerService,
  SessionControllerService,
  XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { findProcesses, listChildren } from "@lucid-rdp/proc";
import { desktopProcesses, removeStaleDisplayFiles } from "@lucid-rdp/xrdp-integration";
import { MissingToolError, type RealServer, startMongoWire, startRedis } from "./servers.js";
import { type ChildServer, spawnService } from "./spawn-service.js";
import { findTool, repoRoot } from "./tools.js";
import { waitFor } from "./wait-for.js";

const mains = {
  serverManager: `${repoRoot}services/server-manager/src/main.ts`,
  sessionController: `${repoRoot}services/session-controller/src/main.ts`,
  xrdpIntegration: `${repoRoot}services/xrdp-integration/src/main.ts`,
  resourceMonitor: `${repoRoot}services/resource-monitor/src/main.ts`,
};

const xrdpHint = "apt-get install -y xrdp";
const xorgxrdpHint = "apt-get install -y xorgxrdp";
/** What xrdp-integration's 'desktops' check requires of the X backend (instance-supervisor.ts). */
const xBackendFiles = ["/usr/lib/xorg/Xorg", "/usr/lib/xorg/modules/drivers/xrdpdev_drv.so"];

/** A range of X display numbers, inclusive. */
export interface DisplayRange {
  readonly first: number;
  readonly last: number;
}

export interface MeshOptions {
  /**
   * How many server-manager replicas to start; they share one database ("sm").
   * @default 1
   */
  readonly serverManagers?: number;
  /**
   * How many xrdp-integration nodes to start, with ids node-1, node-2, ... and databases
   * xrdp-1, xrdp-2, ...
   * @default 1
   */
  readonly xrdpNodes?: number;
  /**
   * Whether to start session-controller (true: one replica, a number: that many; database "sc").
   * Ignored while services/session-controller/src/main.ts does not exist.
   * @default false
   */
  readonly sessionController?: boolean | number;
  /**
   * Whether to start one resource-monitor per node, watching it: NODE_ID of the node,
   * XRDP_INTEGRATION_URL of its xrdp-integration, MONITOR_INTERVAL_MS 500, database "rm" shared by
   * all of them. Throws when services/resource-monitor/src/main.ts does not exist.
   * @default false
   */
  readonly resourceMonitor?: boolean;
  /**
   * Env given to every service, over the mesh's defaults ({@link meshDefaults}) but under what
   * identifies each service (PORT, MONGODB_DB, NODE_ID, XRDP_STATE_DIR, NODE_PORT_RANGE and the
   * URLs of other services).
   * @default {}
   */
  readonly env?: Record<string, string>;
  /**
   * Env for node `index` (0-based), applied last: it may override anything, NODE_PORT_RANGE included.
   * Nodes start with RDP_DOOR=off (no front door, a port per server) unless this or `env` says
   * otherwise.
   * @default none
   */
  readonly nodeEnv?: (index: number) => Record<string, string>;
  /**
   * Real desktops: every node runs an xrdp-sesman per instance and owns its desktops
   * (XRDP_SESMAN=managed), on the X displays `displays` split evenly between the nodes
   * (XRDP_DISPLAY_RANGE of each, at least 2 displays; an instance with the default 10 sessions takes
   * a block of 11). Pick displays that no test running at the same time uses, as server or client
   * (xrdp-integration's desktop tests take 40-89 and 93). sesman probes ports 59N, 60N and 62N for
   * display N (5900+N, 6000+N and 6200+N below 100); the node port blocks (3390-5889) never touch
   * them, and a NODE_PORT_RANGE of {@link nodeEnv} that does makes the node exit 2 naming it.
   * close() ends whatever desktop process is left on the displays. Undefined: XRDP_SESMAN=off, no
   * desktop logins.
   * @default undefined
   */
  readonly desktops?: { readonly displays: DisplayRange };
  /**
   * How long every service may take to become ready and every node HEALTHY, in milliseconds.
   * @default 90000
   */
  readonly readyTimeoutMs?: number;
  /**
   * How long close() waits after SIGTERM before it SIGKILLs a service, in milliseconds.
   * @default 20000
   */
  readonly stopGraceMs?: number;
  /**
   * Whether redis-server keeps an append-only file, so that `redis.stop()` (SIGKILL) and
   * `redis.start()` bring back what it held, as a crashed Redis with AOF would. FerretDB always
   * keeps its data across `mongo.stop()` and `mongo.start()`.
   * @default false
   */
  readonly redisAppendOnly?: boolean;
  /**
   * Embedded backends instead of the shared redis-server and FerretDB: no MONGODB_URI or
   * REDIS_URL, each service's records in `<dataDir>/<service>.sqlite` (DATA_DIR; node `n` and its
   * resource-monitor under `<dataDir>/node-<n>` when there are several nodes), coordination in each process, as `npm start`
   * runs. `redis` and `mongo` of the mesh are then stand-ins whose stop() and start() throw.
   * @default undefined (redis-server and FerretDB)
   */
  readonly embedded?: { readonly dataDir: string };
}

/** A kind of service of the mesh that {@link Mesh.stopService} can stop. */
export type MeshServiceKind = "serverManager" | "sessionController" | "node" | "resourceMonitor";

/** Env every service gets unless {@link MeshOptions.env} says otherwise. */
export const meshDefaults: Readonly<Record<string, string>> = {
  LOG_LEVEL: "info",
  /** Short leases, so that a lost node turns UNHEALTHY within seconds. */
  NODE_HEARTBEAT_TTL_MS: "5000",
  NODE_RDP_HOST: "127.0.0.1",
  XRDP_SESMAN: "off",
  XRDP_CONNECTION_POLL_MS: "200",
  XRDP_HEALTH_INTERVAL_MS: "5000",
  XRDP_STOP_ON_SHUTDOWN: "true",
};

/** One xrdp-integration node of the mesh. */
export interface MeshNode {
  /** The running service; replaced by {@link Mesh.restartNode}. */
  server: ChildServer;
  /** Its NODE_ID: node-1, node-2, ... */
  readonly nodeId: string;
  /** Its XRDP_STATE_DIR, a temporary directory of its own; every xrdp it runs has it in argv. */
  readonly stateDir: string;
  /** Its NODE_PORT_RANGE, disjoint from every other node's and from other meshes' on this host. */
  readonly portRange: { readonly start: number; readonly end: number };
  /** The env it was started with. */
  readonly env: Record<string, string>;
  /** Its XRDP_DISPLAY_RANGE with {@link MeshOptions.desktops}; undefined without. */
  readonly displays?: DisplayRange;
}

export interface Mesh {
  /** The server-manager replicas, in start order; #0 is the one nodes register with. */
  readonly serverManagers: ChildServer[];
  /** The session-controller replicas; empty until session-controller exists or when not asked for. */
  readonly sessionControllers: ChildServer[];
  /** The resource-monitors, #i watching node #i; empty when not asked for. */
  readonly resourceMonitors: ChildServer[];
  readonly nodes: MeshNode[];
  readonly redis: RealServer;
  readonly mongo: RealServer;
  /** A gRPC client of server-manager replica `i`. */
  serverManager(i?: number, opts?: { timeoutMs?: number }): Client<typeof ServerManagerService>;
  /** A gRPC client of node `i`'s xrdp-integration. */
  xrdp(i?: number, opts?: { timeoutMs?: number }): Client<typeof XrdpIntegrationService>;
  /** A gRPC client of session-controller replica `i`. */
  sessionController(
    i?: number,
    opts?: { timeoutMs?: number },
  ): Client<typeof SessionControllerService>;
  /** A gRPC client of the resource-monitor of node `i`. */
  resourceMonitor(i?: number, opts?: { timeoutMs?: number }): Client<typeof ResourceMonitorService>;
  /**
   * The xrdp processes of the mesh's nodes right now: xrdp process-group leaders whose argv carries
   * a node's XRDP_STATE_DIR (a process forked per connection is not counted, nor, with
   * {@link MeshOptions.desktops}, an instance's xrdp-sesman).
   */
  xrdpProcesses(): { pid: number; nodeId: string }[];
  /**
   * SIGKILLs server-manager replica `i` if it still runs, then starts it again with the same env on
   * the same port (so SERVER_MANAGER_URL of the nodes stays right); resolves once it is ready.
   */
  restartServerManager(i: number): Promise<ChildServer>;
  /**
   * SIGKILLs session-controller replica `i` if it still runs, then starts it again on the same port
   * (so SESSION_CONTROLLER_URL of the nodes stays right) with the same env, or with `env` merged
   * over it (kept for later restarts); resolves once it is ready.
   */
  restartSessionController(
    i: number,
    opts?: { env?: Record<string, string> },
  ): Promise<ChildServer>;
  /**
   * SIGKILLs node `i`'s xrdp-integration if it still runs (its xrdp processes live on), then starts
   * it again with the same env, state directory and port; resolves once it is ready.
   */
  restartNode(i: number): Promise<ChildServer>;
  /**
   * SIGKILLs resource-monitor `i` if it still runs, then starts it again with the same env on the
   * same port; resolves once it is ready.
   */
  restartResourceMonitor(i: number): Promise<ChildServer>;
  /**
   * Sends `signal` to the service `i` of `kind` (a node: its xrdp-integration) and resolves once it
   * has exited, with how it exited; one still running `stopGraceMs` (of {@link MeshOptions}) after
   * a SIGTERM is SIGKILLed (`forced`). A SIGTERM or SIGINT goes straight to the service's node
   * process, past tsx: tsx relays a signal and SIGKILLs its child when the child does not confirm
   * it within 30 ms, which a service under load often cannot, so a relayed SIGTERM is a SIGKILL. It stays down until restartServerManager,
   * restartSessionController, restartNode or restartResourceMonitor starts it again.
   */
  stopService(
    kind: MeshServiceKind,
    i: number,
    signal: NodeJS.Signals,
  ): Promise<{ exit: string; forced: boolean }>;
  /** The last `lines` stdout lines of every service, for failure messages. */
  logs(lines?: number): string;
  /**
   * Writes the whole stdout and stderr of every service, the running ones and those replaced by a
   * restart, to `dir` (created), one `<service>-<n>.log` file each; returns the paths.
   */
  writeLogs(dir: string): string[];
  /**
   * Stops everything: SIGTERM to every service and wait for its exit, SIGKILL to stragglers, SIGKILL
   * to every xrdp and xrdp-sesman process group left under the nodes' state directories and to every
   * desktop process left on the nodes' displays (removing their stale display files), then redis
   * and FerretDB; removes the temporary directories. Safe to call twice.
   */
  close(): Promise<void>;
}

/** Starts a mesh; see the file comment. On any failure, stops what it started and throws. */
export async function startMesh(opts: MeshOptions = {}): Promise<Mesh> {
  const smCount = opts.serverManagers ?? 1;
  const nodeCount = opts.xrdpNodes ?? 1;
  const scWanted =
    opts.sessionController === true ? 1 : opts.sessionController ? opts.sessionController : 0;
  const scCount = existsSync(mains.sessionController) ? scWanted : 0;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const displays =
    opts.desktops === undefined ? [] : splitDisplays(opts.desktops.displays, nodeCount);

  // Tools first, before anything is started.
  let xrdpBin: string | undefined;
  if (nodeCount > 0) {
    xrdpBin = findTool("xrdp", xrdpHint); // throws under CI=true
    if (xrdpBin === undefined) throw new MissingToolError("xrdp", xrdpHint);
    if (opts.desktops !== undefined) {
      if (findTool("xrdp-sesman", xrdpHint) === undefined) {
        throw new MissingToolError("xrdp-sesman", xrdpHint);
      }
      const missing = xBackendFiles.filter((f) => !existsSync(f));
      if (missing.length > 0) {
        const message = `${missing.join(", ")} missing; install it with: ${xorgxrdpHint}`;
        if (process.env.CI === "true") throw new Error(message);
        throw new MissingToolError("xorgxrdp", xorgxrdpHint);
      }
    }
  }
  if (smCount > 0 && !existsSync(mains.serverManager)) {
    throw new Error(`${mains.serverManager} does not exist: server-manager is not written yet`);
  }
  if (opts.resourceMonitor === true && !existsSync(mains.resourceMonitor)) {
    throw new Error(`${mains.resourceMonitor} does not exist: resource-monitor is not written yet`);
  }

  const embedded = opts.embedded;
  const redis =
    embedded !== undefined
      ? absentServer("redis")
      : await startRedis({ appendOnly: opts.redisAppendOnly === true });
  let mongo: RealServer;
  try {
    mongo = embedded !== undefined ? absentServer("mongodb") : await startMongoWire();
  } catch (e) {
    await redis.close();
    throw e;
  }

  const mesh = new RunningMesh(redis, mongo, opts.stopGraceMs ?? 20_000);
  try {
    const common: Record<string, string> =
      embedded !== undefined
        ? { ...meshDefaults, ...opts.env, DATA_DIR: embedded.dataDir, EMBEDDED_STATE: "sqlite" }
        : { ...meshDefaults, ...opts.env, REDIS_URL: redis.url, MONGODB_URI: mongo.url };
    mesh.envs.serverManagers = Array.from({ length: smCount }, () => ({
      ...common,
      PORT: "0",
      MONGODB_DB: "sm",
    }));
    const sms = await Promise.all(
      mesh.envs.serverManagers.map((env) => spawnService(mains.serverManager, env)),
    );
    mesh.serverManagers.push(...sms);
    // From now on a restart must find the same port.
    mesh.envs.serverManagers.forEach((env, i) => {
      env.PORT = String(sms[i]?.port);
    });
    const smUrl = sms[0]?.url;

    mesh.envs.sessionControllers = Array.from({ length: scCount }, () => ({
      ...common,
      PORT: "0",
      MONGODB_DB: "sc",
      ...(smUrl !== undefined ? { SERVER_MANAGER_URL: smUrl } : {}),
    }));
    const scs = await Promise.all(
      mesh.envs.sessionControllers.map((env) => spawnService(mains.sessionController, env)),
    );
    mesh.sessionControllers.push(...scs);
    mesh.envs.sessionControllers.forEach((env, i) => {
      env.PORT = String(scs[i]?.port);
    });
    const scUrl = scs[0]?.url;

    const blocks: PortBlock[] = [];
    for (let i = 0; i < nodeCount; i++) {
      const block = await reservePortBlock();
      mesh.portBlocks.push(block);
      blocks.push(block);
    }
    const nodeSpecs = blocks.map((block, i) => {
      const n = i + 1;
      const stateDir = mkdtempSync(join(tmpdir(), `lucid-mesh-node${n}-`));
      mesh.tempDirs.push(stateDir);
      const nodeDisplays = displays[i];
      const env: Record<string, string> = {
        // Per-server ports, as every mesh test before the front door (issue 18) expects; a test
        // wanting the door sets RDP_DOOR=on in `env` or `nodeEnv`.
        RDP_DOOR: "off",
        ...common,
        XRDP_BIN: xrdpBin as string,
        PORT: "0",
        MONGODB_DB: `xrdp-${n}`,
        NODE_ID: `node-${n}`,
        XRDP_STATE_DIR: stateDir,
        NODE_PORT_RANGE: `${block.start}-${block.end}`,
        ...(embedded !== undefined && nodeCount > 1
          ? { DATA_DIR: join(embedded.dataDir, `node-${n}`) }
          : {}),
        ...(nodeDisplays !== undefined
          ? {
              XRDP_SESMAN: "managed",
              XRDP_DISPLAY_RANGE: `${nodeDisplays.first}-${nodeDisplays.last}`,
            }
          : {}),
        ...(smUrl !== undefined ? { SERVER_MANAGER_URL: smUrl } : {}),
        ...(scUrl !== undefined ? { SESSION_CONTROLLER_URL: scUrl } : {}),
        ...opts.nodeEnv?.(i),
      };
      const [start, end] = (env.NODE_PORT_RANGE ?? "").split("-").map(Number);
      return { env, stateDir, nodeId: env.NODE_ID as string, start, end, displays: nodeDisplays };
    });
    // Known before they start, so that close() finds their xrdp and desktops even if a start fails.
    mesh.stateDirs.push(...nodeSpecs.map((s) => ({ stateDir: s.stateDir, nodeId: s.nodeId })));
    for (const s of nodeSpecs) if (s.displays !== undefined) mesh.displays.push(s.displays);
    const servers = await Promise.all(
      nodeSpecs.map((s) => spawnService(mains.xrdpIntegration, s.env)),
    );
    nodeSpecs.forEach((s, i) => {
      const server = servers[i] as ChildServer;
      s.env.PORT = String(server.port);
      mesh.nodes.push({
        server,
        nodeId: s.nodeId,
        stateDir: s.stateDir,
        portRange: { start: s.start ?? 0, end: s.end ?? 0 },
        env: s.env,
        ...(s.displays !== undefined ? { displays: s.displays } : {}),
      });
    });

    if (opts.resourceMonitor === true) {
      mesh.envs.resourceMonitors = mesh.nodes.map((node) => ({
        ...common,
        XRDP_BIN: xrdpBin as string,
        PORT: "0",
        MONGODB_DB: "rm",
        NODE_ID: node.nodeId,
        XRDP_INTEGRATION_URL: node.server.url,
        MONITOR_INTERVAL_MS: "500",
        ...(embedded !== undefined && mesh.nodes.length > 1
          ? { DATA_DIR: join(embedded.dataDir, node.nodeId) }
          : {}),
        ...(scUrl !== undefined ? { SESSION_CONTROLLER_URL: scUrl } : {}),
      }));
      const rms = await Promise.all(
        mesh.envs.resourceMonitors.map((env) => spawnService(mains.resourceMonitor, env)),
      );
      mesh.resourceMonitors.push(...rms);
      mesh.envs.resourceMonitors.forEach((env, i) => {
        env.PORT = String(rms[i]?.port);
      });
    }

    await mesh.waitReady(readyTimeoutMs);
    return mesh;
  } catch (e) {
    await mesh.close();
    throw e;
  }
}

/** A stand-in for redis-server or FerretDB on an embedded mesh: there is none to stop or start. */
function absentServer(name: string): RealServer {
  const refuse = async () => {
    throw new Error(`this mesh runs on embedded state: it has no ${name} to stop or start`);
  };
  return {
    url: "",
    port: 0,
    controllable: false,
    stop: refuse,
    start: refuse,
    close: async () => {},
  };
}

// --- the running mesh ------------------------------------------------------------------------

const live = new Set<RunningMesh>();
let exitHandlerRegistered = false;

/** If the test process exits with a mesh still up, kill its process groups (synchronously). */
function registerExitHandler(): void {
  if (exitHandlerRegistered) return;
  exitHandlerRegistered = true;
  process.once("exit", () => {
    for (const mesh of live) mesh.killAllNow();
  });
}

class RunningMesh implements Mesh {
  readonly serverManagers: ChildServer[] = [];
  readonly sessionControllers: ChildServer[] = [];
  readonly resourceMonitors: ChildServer[] = [];
  readonly nodes: MeshNode[] = [];
  readonly envs = {
    serverManagers: [] as Record<string, string>[],
    sessionControllers: [] as Record<string, string>[],
    resourceMonitors: [] as Record<string, string>[],
  };
  readonly stateDirs: { stateDir: string; nodeId: string }[] = [];
  /** Services replaced by a restart, oldest first, kept for {@link Mesh.writeLogs}. */
  readonly retired: { name: string; server: ChildServer }[] = [];
  /** The nodes' XRDP_DISPLAY_RANGEs (with desktops): close() ends what is left on them. */
  readonly displays: DisplayRange[] = [];
  readonly tempDirs: string[] = [];
  readonly portBlocks: PortBlock[] = [];
  private closed: Promise<void> | undefined;

  constructor(
    readonly redis: RealServer,
    readonly mongo: RealServer,
    private readonly stopGraceMs: number,
  ) {
    live.add(this);
    registerExitHandler();
  }

  serverManager(i = 0, opts: { timeoutMs?: number } = {}): Client<typeof ServerManagerService> {
    return clientOf(ServerManagerService, pick(this.serverManagers, i, "server-manager"), opts);
  }

  xrdp(i = 0, opts: { timeoutMs?: number } = {}): Client<typeof XrdpIntegrationService> {
    return clientOf(XrdpIntegrationService, pick(this.nodes, i, "node").server, opts);
  }

  sessionController(
    i = 0,
    opts: { timeoutMs?: number } = {},
  ): Client<typeof SessionControllerService> {
    return clientOf(
      SessionControllerService,
      pick(this.sessionControllers, i, "session-controller"),
      opts,
    );
  }

  resourceMonitor(i = 0, opts: { timeoutMs?: number } = {}): Client<typeof ResourceMonitorService> {
    return clientOf(
      ResourceMonitorService,
      pick(this.resourceMonitors, i, "resource-monitor"),
      opts,
    );
  }

  xrdpProcesses(): { pid: number; nodeId: string }[] {
    return this.processGroups()
      .filter((p) => !/sesman/.test(p.exe))
      .map(({ pid, nodeId }) => ({ pid, nodeId }));
  }

  /**
   * Process-group leaders whose argv carries a node's XRDP_STATE_DIR: each instance's xrdp and,
   * with desktops, its xrdp-sesman (`exe` is the base name of argv[0]).
   */
  private processGroups(): { pid: number; nodeId: string; exe: string }[] {
    const found: { pid: number; nodeId: string; exe: string }[] = [];
    for (const p of findProcesses((p) => p.pid === p.stat.pgrp && p.stat.state !== "Z")) {
      const owner = this.stateDirs.find((d) =>
        p.cmdline.some((a) => a.startsWith(`${d.stateDir}/`)),
      );
      const argv0 = p.cmdline[0] ?? "";
      const exe = argv0.slice(argv0.lastIndexOf("/") + 1);
      if (owner !== undefined) found.push({ pid: p.pid, nodeId: owner.nodeId, exe });
    }
    return found;
  }

  async restartServerManager(i: number): Promise<ChildServer> {
    const old = pick(this.serverManagers, i, "server-manager");
    await killNow(old);
    this.retired.push({ name: `server-manager #${i}`, server: old });
    const server = await spawnService(mains.serverManager, this.envs.serverManagers[i] ?? {});
    this.serverManagers[i] = server;
    await waitFor(`server-manager #${i} ready after restart`, () => readyz(server.url), {
      until: (ready) => ready,
      timeoutMs: this.stopGraceMs,
      logs: () => this.logs(),
      retry: () => false,
    });
    return server;
  }

  async restartSessionController(
    i: number,
    opts: { env?: Record<string, string> } = {},
  ): Promise<ChildServer> {
    const old = pick(this.sessionControllers, i, "session-controller");
    await killNow(old);
    this.retired.push({ name: `session-controller #${i}`, server: old });
    const env = this.envs.sessionControllers[i] ?? {};
    // PORT stays: a restart must find the same port.
    Object.assign(env, opts.env, { PORT: env.PORT ?? String(old.port) });
    this.envs.sessionControllers[i] = env;
    const server = await spawnService(mains.sessionController, env);
    this.sessionControllers[i] = server;
    await waitFor(`session-controller #${i} ready after restart`, () => readyz(server.url), {
      until: (ready) => ready,
      timeoutMs: this.stopGraceMs,
      logs: () => this.logs(),
      retry: () => false,
    });
    return server;
  }

  async restartNode(i: number): Promise<ChildServer> {
    const node = pick(this.nodes, i, "node");
    await killNow(node.server);
    this.retired.push({ name: `xrdp-integration ${node.nodeId}`, server: node.server });
    const server = await spawnService(mains.xrdpIntegration, node.env);
    node.server = server;
    await waitFor(`${node.nodeId} ready after restart`, () => readyz(server.url), {
      until: (ready) => ready,
      timeoutMs: this.stopGraceMs,
      logs: () => this.logs(),
      retry: () => false,
    });
    return server;
  }

  async restartResourceMonitor(i: number): Promise<ChildServer> {
    const old = pick(this.resourceMonitors, i, "resource-monitor");
    await killNow(old);
    this.retired.push({ name: `resource-monitor #${i}`, server: old });
    const server = await spawnService(mains.resourceMonitor, this.envs.resourceMonitors[i] ?? {});
    this.resourceMonitors[i] = server;
    await waitFor(`resource-monitor #${i} ready after restart`, () => readyz(server.url), {
      until: (ready) => ready,
      timeoutMs: this.stopGraceMs,
      logs: () => this.logs(),
      retry: () => false,
    });
    return server;
  }

  async stopService(
    kind: MeshServiceKind,
    i: number,
    signal: NodeJS.Signals,
  ): Promise<{ exit: string; forced: boolean }> {
    const server =
      kind === "serverManager"
        ? pick(this.serverManagers, i, "server-manager")
        : kind === "sessionController"
          ? pick(this.sessionControllers, i, "session-controller")
          : kind === "resourceMonitor"
            ? pick(this.resourceMonitors, i, "resource-monitor")
            : pick(this.nodes, i, "node").server;
    if (running(server)) {
      const node =
        signal === "SIGKILL"
          ? []
          : listChildren(server.child.pid as number).filter((p) => p.state !== "Z");
      if (node.length === 0) server.kill(signal);
      for (const p of node) signalPid(p.pid, signal);
    }
    const exited = await Promise.race([
      server.exited.then(() => true),
      delay(this.stopGraceMs).then(() => false),
    ]);
    if (!exited) await killNow(server);
    return { exit: exitOf(server), forced: !exited };
  }

  writeLogs(dir: string): string[] {
    mkdirSync(dir, { recursive: true });
    const seen = new Map<string, number>();
    return [...this.retired, ...this.named()].map(({ name, server }) => {
      const base = name.replace(/[^A-Za-z0-9-]+/g, "-").replace(/-+$/, "");
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      const file = join(dir, `${base}-${n}.log`);
      const stderr = server.stderr();
      writeFileSync(
        file,
        `${server.stdout.join("\n")}\n${stderr === "" ? "" : `[stderr]\n${stderr}\n`}`,
      );
      return file;
    });
  }

  logs(lines = 20): string {
    return this.named()
      .map(
        ({ name, server }) =>
          `--- ${name} ${server.url}${running(server) ? "" : ` (exited ${exitOf(server)})`} ---\n${server.stdout.slice(-lines).join("\n")}${stderrTail(server)}`,
      )
      .join("\n");
  }

  /** Polls until every service answers /readyz 200 and server-manager #0 lists every node HEALTHY. */
  async waitReady(timeoutMs: number): Promise<void> {
    const pending = new Set<string>();
    let lastNodes = "";
    const check = async (): Promise<boolean> => {
      pending.clear();
      for (const { name, server } of this.named()) {
        if (!running(server)) {
          throw new Error(
            `${name} exited (${exitOf(server)}) before the mesh was ready\n${this.logs()}`,
          );
        }
        if (!(await readyz(server.url))) pending.add(`${name} /readyz`);
      }
      if (this.serverManagers.length > 0 && this.nodes.length > 0) {
        try {
          const { nodes } = await this.serverManager(0, { timeoutMs: 5_000 }).listNodes({
            pageSize: 1000,
          });
          lastNodes = nodes
            .map(
              (n) =>
                `${n.id}=${NodeHealth[n.health]}${n.healthMessage ? ` (${n.healthMessage})` : ""}`,
            )
            .join(", ");
          for (const node of this.nodes) {
            const listed = nodes.find((n) => n.id === node.nodeId);
            if (listed?.health !== NodeHealth.HEALTHY) pending.add(`${node.nodeId} HEALTHY`);
          }
        } catch (e) {
          lastNodes = `ListNodes failed: ${String(e)}`;
          pending.add("ListNodes");
        }
      }
      return pending.size === 0;
    };
    // A service that exits fails the wait at once: its check throws, and errors are not retried.
    await waitFor("the mesh ready", check, {
      until: (ready) => ready,
      timeoutMs,
      detail: () =>
        `waiting for: ${[...pending].join(", ")}${lastNodes ? `\nListNodes: ${lastNodes}` : ""}`,
      logs: () => this.logs(),
      retry: () => false,
    });
  }

  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    const services = this.named().map((n) => n.server);
    for (const s of services) if (running(s)) s.kill("SIGTERM");
    await Promise.all(
      services.map(async (s) => {
        const exited = await Promise.race([
          s.exited.then(() => true),
          delay(this.stopGraceMs).then(() => false),
        ]);
        if (!exited) await killNow(s);
      }),
    );
    // What survives even SIGKILL is reported, once the rest is cleaned up.
    let survivors: unknown;
    try {
      await this.killXrdp();
      await this.endDesktops();
    } catch (e) {
      survivors = e;
    }
    await Promise.allSettled([this.redis.close(), this.mongo.close()]);
    for (const dir of this.tempDirs) rmSync(dir, { recursive: true, force: true });
    for (const block of this.portBlocks) block.release();
    live.delete(this);
    if (survivors !== undefined) throw survivors;
  }

  /**
   * SIGKILLs every xrdp and xrdp-sesman process group left under a node's state directory; waits
   * until gone.
   */
  private async killXrdp(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const left = this.processGroups();
      if (left.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`xrdp processes survived SIGKILL: ${left.map((p) => p.pid).join(", ")}`);
      }
      for (const p of left) signalGroup(p.pid, "SIGKILL");
      await delay(50);
    }
  }

  /**
   * SIGKILLs every process left on the nodes' displays (a desktop whose service was killed before
   * it could end it); waits until gone, then removes their stale X and xrdp display files.
   */
  private async endDesktops(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (const range of this.displays) {
      const block = { first: range.first, count: range.last - range.first + 1 };
      for (;;) {
        const left = desktopProcesses(block);
        if (left.length === 0) break;
        if (Date.now() > deadline) {
          throw new Error(
            `desktop processes on displays ${range.first}-${range.last} survived SIGKILL: ${left.map((p) => `${p.pid} ${p.cmdline[0] ?? ""}`).join(", ")}`,
          );
        }
        for (const p of left) signalPid(p.pid, "SIGKILL");
        await delay(50);
      }
      removeStaleDisplayFiles(block);
    }
  }

  /** For the exit handler: no awaiting, no cleanup beyond killing. */
  killAllNow(): void {
    for (const { server } of this.named()) if (running(server)) server.kill("SIGKILL");
    for (const p of this.processGroups()) signalGroup(p.pid, "SIGKILL");
    for (const range of this.displays) {
      const block = { first: range.first, count: range.last - range.first + 1 };
      for (const p of desktopProcesses(block)) signalPid(p.pid, "SIGKILL");
    }
    for (const block of this.portBlocks) block.release();
  }

  private named(): { name: string; server: ChildServer }[] {
    return [
      ...this.serverManagers.map((server, i) => ({ name: `server-manager #${i}`, server })),
      ...this.sessionControllers.map((server, i) => ({ name: `session-controller #${i}`, server })),
      ...this.nodes.map((n) => ({ name: `xrdp-integration ${n.nodeId}`, server: n.server })),
      ...this.resourceMonitors.map((server, i) => ({
        name: `resource-monitor ${this.nodes[i]?.nodeId ?? `#${i}`}`,
        server,
      })),
    ];
  }
}

function pick<T>(list: readonly T[], i: number, what: string): T {
  const item = list[i];
  if (item === undefined) throw new Error(`the mesh has no ${what} #${i} (it has ${list.length})`);
  return item;
}

function clientOf<S extends DescService>(
  service: S,
  server: ChildServer,
  opts: { timeoutMs?: number },
): Client<S> {
  return createNodeClient(service, { baseUrl: server.url, timeoutMs: opts.timeoutMs ?? 30_000 });
}

function running(s: ChildServer): boolean {
  return s.child.exitCode === null && s.child.signalCode === null;
}

function exitOf(s: ChildServer): string {
  return s.child.signalCode ?? `code ${s.child.exitCode}`;
}

/** SIGKILLs a service's whole process group and waits for its exit. */
async function killNow(s: ChildServer): Promise<void> {
  if (running(s)) s.kill("SIGKILL");
  await s.exited;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  signalPid(-pgid, signal);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * `range` split into `nodes` equal consecutive parts (the remainder unused), one per node; throws
 * when a part would have fewer than 2 displays or the range leaves 1-999.
 */
function splitDisplays(range: DisplayRange, nodes: number): DisplayRange[] {
  const size = Math.floor((range.last - range.first + 1) / Math.max(1, nodes));
  if (!Number.isInteger(range.first) || range.first < 1 || range.last > 999 || size < 2) {
    throw new Error(
      `desktops.displays ${range.first}-${range.last}: need at least 2 displays per node (${nodes} nodes) within 1-999`,
    );
  }
  return Array.from({ length: nodes }, (_, i) => ({
    first: range.first + i * size,
    last: range.first + (i + 1) * size - 1,
  }));
}

function stderrTail(server: ChildServer, chars = 4_000): string {
  const text = server.stderr().trim();
  return text === "" ? "" : `\n[stderr]\n${text.slice(-chars)}`;
}

async function readyz(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// --- node port ranges ------------------------------------------------------------------------

/** 100 ports reserved for one node, held by a lock file until released. */
interface PortBlock {
  readonly start: number;
  readonly end: number;
  release(): void;
}

/**
 * Node port ranges come in blocks of 100 from 3390 up to 5889, clear of xrdp's 3389 and of the
 * 5900+, 6000+ and 6200+ ranges sesman uses for displays, and below the ephemeral ports. Meshes of
 * concurrent test files (vitest runs files in parallel) must not share a block, so each block is
 * claimed with a lock file naming the claiming pid; a lock whose pid is gone is taken over.
 */
const firstBlock = 3390;
const blockSize = 100;
const lastBlockEnd = 5889;
const lockDir = join(tmpdir(), "lucid-mesh-ports");

async function reservePortBlock(): Promise<PortBlock> {
  mkdirSync(lockDir, { recursive: true });
  for (let start = firstBlock; start + blockSize - 1 <= lastBlockEnd; start += blockSize) {
    const end = start + blockSize - 1;
    const lock = join(lockDir, String(start));
    const token = `${process.pid} ${Math.random()}`;
    if (!claim(lock, token)) continue;
    const release = () => {
      try {
        if (readFileSync(lock, "utf8") === token) rmSync(lock);
      } catch {
        // already gone
      }
    };
    if (await allBindable(start, end)) return { start, end, release };
    release();
  }
  throw new Error(
    `no free block of ${blockSize} ports between ${firstBlock} and ${lastBlockEnd} (locks in ${lockDir})`,
  );
}

/** Creates `lock` exclusively, taking it over when the pid it names is dead. */
function claim(lock: string, token: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, token, { flag: "wx" });
      return true;
    } catch {
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(lock, "utf8").split(" ")[0]);
      } catch {
        continue; // released meanwhile: try again
      }
      if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) return false;
      rmSync(lock, { force: true });
    }
  }
  return false;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function allBindable(start: number, end: number): Promise<boolean> {
  for (let port = start; port <= end; port++) {
    if (!(await bindable(port))) return false;
  }
  return true;
}

/** True when a listener can bind 127.0.0.1:port right now (it is closed again at once). */
export function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}
