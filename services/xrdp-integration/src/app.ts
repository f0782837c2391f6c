/**
 * xrdp-integration's composition root: from its config, opened backends and clients of the
 * services it calls, builds the supervisor, the connection watcher, the handler, its routes and
 * health checks; start() then runs the background work (wake-ups, TLS key pool, node heartbeat,
 * reconciliation, connection watching, housekeeping) and stop() ends it. main.ts, tests and the
 * bench build the service through it.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  type Clock,
  createLogger,
  type DependencyCheck,
  type Logger,
  type RawProtocol,
  type RunningServer,
  systemClock,
} from "@lucid-rdp/runtime";
import { type Backends, BusWakeups, sweepExpired } from "@lucid-rdp/storage";
import type { ServerManagerClient, SessionControllerClient } from "./clients/index.js";
import type { XrdpIntegrationConfig } from "./config.js";
import { nodeMaxServers } from "./domain/display-blocks.js";
import { buildPolicy } from "./domain/policy.js";
import { type DoorRefusal, RdpDoor } from "./door/index.js";
import { routes } from "./routes.js";
import { XrdpIntegrationHandler } from "./service/xrdp-integration-service.js";
import type { xrdpIntegrationSpecs } from "./store/specs.js";
import { ConnectionWatcher } from "./supervisor/connection-watcher.js";
import { hostSesmanPort } from "./supervisor/instance-sesman.js";
import { InstanceSupervisor } from "./supervisor/instance-supervisor.js";
import { describeFailingChecks, NodeHeartbeat } from "./supervisor/node-heartbeat.js";
import { RoutingTable } from "./supervisor/routing-table.js";
import { TlsKeyPool } from "./supervisor/tls-key-pool.js";
import { registerPoolMetrics } from "./supervisor/warm-pool-metrics.js";

/** The services xrdp-integration calls; an absent one is not called. */
export interface XrdpIntegrationClients {
  /** Where RegisterNode heartbeats go; absent: a static node, listed in server-manager's config. */
  readonly serverManager?: ServerManagerClient;
  /** Where connection changes are reported; absent: they go to the bus only. */
  readonly sessionController?: SessionControllerClient;
}

/** Options of {@link createApp}. */
export interface AppDeps {
  /** @default a silent logger */
  readonly logger?: Logger;
  /** The wall time records are stamped with. @default systemClock */
  readonly clock?: Clock;
  /** The installed xrdp's version (host/xrdp-version.ts). @default undefined (0.9 behaviour) */
  readonly xrdpVersion?: string;
  /** What GetHostInfo reports as the service's version. @default npm_package_version or 0.1.0 */
  readonly serviceVersion?: string;
  /**
   * The node's routing key (host/routing-key-file.ts), which routing tokens derive from.
   * @default a random key of this process (tokens then do not outlive it)
   */
  readonly routingKey?: Buffer;
}

/** xrdp-integration, built: what main.ts serves and starts, and the pieces tests reach for. */
export interface XrdpIntegrationApp {
  /** Registers the service's RPCs (startServer, createRouterTransport). */
  readonly routes: (router: ConnectRouter) => void;
  /** The backends' checks and the service's own (xrdp, desktops). */
  readonly checks: readonly DependencyCheck[];
  readonly handler: XrdpIntegrationHandler;
  readonly supervisor: InstanceSupervisor;
  readonly watcher: ConnectionWatcher;
  /** The front door's routes (RDP_DOOR=on), else undefined. */
  readonly routingTable?: RoutingTable;
  /** The front door (RDP_DOOR=on), else undefined. */
  readonly door?: RdpDoor;
  /** What startServer serves beside HTTP on the one port: the door's RDP. */
  readonly rawProtocols: readonly RawProtocol[];
  /** How many instance keys are generated ahead of time (0: none). */
  readonly keyPoolSize: number;
  /** Starts the background work, once `server` listens. */
  start(server: RunningServer): void;
  /** Ends what start() started and the instances (or leaves them, per config); not the backends. */
  stop(): Promise<void>;
}

/** Ended instances are kept 24 h (the contract's retention). */
const retentionMs = 24 * 3600_000;

/** Builds xrdp-integration from its config, backends and the clients of the services it calls. */
export function createApp(
  config: XrdpIntegrationConfig,
  backends: Backends<typeof xrdpIntegrationSpecs>,
  clients: XrdpIntegrationClients,
  deps: AppDeps = {},
): XrdpIntegrationApp {
  const logger = deps.logger ?? createLogger({ service: "xrdp-integration", level: "silent" });
  const clock = deps.clock ?? systemClock;
  const { defaults, floor } = buildPolicy(config);
  const managedDesktops = config.sesman === "managed";

  // Keys ahead of time only where instances generate their own: not with one certificate for all
  // (XRDP_TLS_CERT/KEY), nor without xrdp, where no instance starts.
  const keyPoolSize =
    config.tls === undefined && config.xrdpBin !== undefined ? config.tlsKeyPool : 0;
  const keyPool = new TlsKeyPool({ size: keyPoolSize, logger });
  // StartInstance's wait for READY wakes on the instance events the supervisor publishes.
  const instanceWakeups = new BusWakeups({
    bus: backends.coordination.bus,
    family: "instance",
    onError: (err, retryInMs) =>
      logger.warn({ err, retryInMs }, "instance events not followed: waits re-read every second"),
  });
  const supervisor = new InstanceSupervisor({
    store: backends.stores.instances,
    bus: backends.coordination.bus,
    logger,
    clock,
    xrdpBin: config.xrdpBin,
    xrdpMissingReason: config.xrdpMissingReason,
    stateDir: config.stateDir,
    listenAddress: config.listenAddress,
    maxInstances: config.maxInstances,
    defaults,
    floor,
    tls: config.tls,
    keyPool,
    wakeups: instanceWakeups,
    readinessTimeoutMs: config.readinessTimeoutMs,
    stopGraceMs: config.stopGraceMs,
    restartBackoffMs: config.restartBackoffMs,
    maxRestartBackoffMs: config.maxRestartBackoffMs,
    crashLoopExits: config.crashLoopExits,
    crashLoopWindowMs: config.crashLoopWindowMs,
    healthIntervalMs: config.healthIntervalMs,
    // XRDP_SESMAN=managed: a sesman per instance, and the desktops are the service's to end.
    sesmanBin: managedDesktops ? config.sesmanBin : undefined,
    sesmanPort: hostSesmanPort(),
    displayRange: config.displayRange,
    xrdpVersion: deps.xrdpVersion,
    door: config.rdpDoor,
    portRange: config.portRange,
    warmPoolSize: config.warmPoolSize,
  });
  const routingTable = config.rdpDoor
    ? new RoutingTable({
        key: deps.routingKey ?? randomBytes(32),
        listLive: () => supervisor.instances.listLive(),
        logger,
      })
    : undefined;
  const { sessionController } = clients;
  // The RDP front door (RDP_DOOR=on) on the service's own port: routes by token, refuses the rest.
  const door =
    routingTable &&
    new RdpDoor({
      logger,
      lookup: (token) => routingTable.lookup(token),
      onRefused: (refusal) => auditRefusal(refusal),
      onConnection: (e) => {
        if (e.type === "closed") watcher.observeNow();
      },
      limits: { ratePerMinute: config.doorRatePerMinute, burst: config.doorBurst },
      clock,
    });
  // Refusals go to the audit log, at most 20 a second (beyond that they are counted and logged
  // only): a flood from many sources must not become a flood of writes.
  const auditBudget = { second: 0, used: 0, dropped: 0 };
  function auditRefusal(r: DoorRefusal): void {
    if (r.reason === "rate") return; // counted and logged by the door; a flood is not audited
    const now = clock();
    const second = Math.floor(now.getTime() / 1000);
    if (second !== auditBudget.second) {
      if (auditBudget.dropped > 0) {
        logger.warn(
          { dropped: auditBudget.dropped },
          "door refusals not audited: over 20 a second",
        );
      }
      Object.assign(auditBudget, { second, used: 0, dropped: 0 });
    }
    if (auditBudget.used >= 20) {
      auditBudget.dropped++;
      return;
    }
    auditBudget.used++;
    const peer = r.peer.address.includes(":") ? `[${r.peer.address}]` : r.peer.address;
    backends.stores.auditEvents
      .insert({
        id: randomUUID(),
        time: now,
        actorSubject: `rdp:${peer}:${r.peer.port}`,
        actorRoles: [],
        action: "rdp_door.refused",
        resourceType: r.instanceId !== undefined ? "instance" : "node",
        resourceId: r.instanceId ?? config.nodeId,
        details: {
          reason: r.reason,
          peer: `${peer}:${r.peer.port}`,
          node: config.nodeId,
          ...(r.tokenHash !== undefined && { token_sha256_prefix: r.tokenHash }),
        },
      })
      .catch((e: unknown) => logger.warn({ err: e }, "door refusal not audited"));
  }
  const watcher = new ConnectionWatcher({
    instances: supervisor.instances,
    bus: backends.coordination.bus,
    logger,
    clock,
    pollMs: config.connectionPollMs,
    report: sessionController && ((change) => sessionController.reportConnectionEvent(change)),
    // Behind the door xrdp sees 127.0.0.1:<the door's upstream port>; the door knows the client.
    peerOf: door && ((peer) => door.peerOfUpstreamPort(peer.port)),
  });

  let server: RunningServer | undefined;
  let heartbeat: NodeHeartbeat | undefined;
  let reconciler: NodeJS.Timeout | undefined;
  let housekeeping: NodeJS.Timeout | undefined;
  let stopped = false;
  const handler = new XrdpIntegrationHandler({
    supervisor,
    instances: supervisor.instances,
    bus: backends.coordination.bus,
    connections: watcher,
    health: () => server?.health,
    nodeId: config.nodeId,
    xrdpBin: config.xrdpBin,
    xrdpVersion: deps.xrdpVersion,
    maxInstances: config.maxInstances,
    startTime: clock(),
    serviceVersion: deps.serviceVersion ?? process.env.npm_package_version ?? "0.1.0",
    shutdownSignal: () => server?.shutdownSignal,
    door: routingTable && {
      routingToken: (r) => {
        routingTable.note(r);
        return RoutingTable.routable(r) ? routingTable.tokenOf(r.id) : undefined;
      },
      port: () => server?.port ?? 0,
      connections: () => door?.connections() ?? [],
    },
  });

  const checks: DependencyCheck[] = [
    ...backends.checks,
    {
      name: "xrdp",
      check: async () => {
        const a = supervisor.availability();
        if (!a.ok) throw new Error(a.reason);
        if (managedDesktops && config.sesmanBin === undefined) {
          throw new Error("xrdp-sesman not found (XRDP_SESMAN_BIN); or set XRDP_SESMAN=off");
        }
      },
    },
    {
      // A node that cannot start desktops takes no servers: placement skips it.
      name: "desktops",
      check: async () => {
        const d = await supervisor.desktopAvailability();
        if (!d.ok) throw new Error(d.reason);
      },
    },
  ];

  /** Registers the node with server-manager and keeps its lease while the service runs. */
  function startHeartbeat(running: RunningServer, serverManager: ServerManagerClient): void {
    heartbeat = new NodeHeartbeat({
      baseUrl: config.serverManagerUrl ?? "",
      token: config.meshToken,
      client: serverManager,
      node: {
        nodeId: config.nodeId,
        advertiseHost: config.advertiseHost,
        apiPort: running.port,
        rdpHost: config.rdpHost,
        // Desktops need displays: the node holds no more servers than its range has blocks for.
        maxServers: nodeMaxServers({
          managedDesktops,
          maxInstances: config.maxInstances,
          displayRange: config.displayRange,
          maxSessions: defaults.maxSessions,
        }),
        portRange: config.portRange,
        labels: config.nodeLabels,
        leaseTtlMs: config.heartbeatTtlMs,
        xrdpVersion: deps.xrdpVersion,
        ...(config.rdpDoor && { rdpDoorPort: running.port }),
      },
      warmPool: () => supervisor.pool.status(),
      onAnswer: (answer) => {
        if (answer.draining !== undefined) supervisor.pool.setDraining(answer.draining);
      },
      serving: () => running.health.report().status === "SERVING",
      statusMessage: () => describeFailingChecks(running.health.report()),
      logger,
    });
    heartbeat.start();
  }

  // Reconcile with the process table once the stores answer (they may be down at start), then
  // again at the health interval: a record whose insert was answered by an outage, or a process
  // whose instance ended while the store was away, is repaired without waiting for a restart.
  async function reconcileThenWatch(): Promise<void> {
    for (let delay = 500; !stopped; delay = Math.min(delay * 2, 30_000)) {
      try {
        await supervisor.reconcile();
        break;
      } catch (e) {
        logger.warn({ err: e, retryInMs: delay }, "reconciliation postponed");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    if (stopped) return;
    watcher.start();
    // The pool fills once reconciliation adopted what an earlier life left (its warm ones too).
    supervisor.pool.start();
    reconciler = setInterval(() => {
      supervisor.reconcile().catch((e: unknown) => logger.warn({ err: e }, "reconcile failed"));
    }, config.healthIntervalMs);
    reconciler.unref();
  }

  // Housekeeping: ended instances are kept 24 h, request ids for their TTL; no TTL indexes on
  // FerretDB, so the service deletes them itself.
  function sweep(): void {
    const now = clock().getTime();
    void Promise.all([
      backends.stores.instances.deleteWhere({
        state: { in: ["STOPPED", "FAILED"] },
        updateTime: { lt: new Date(now - retentionMs) },
      }),
      sweepExpired(backends.stores, new Date(now), config.storage.auditRetentionMs),
    ]).catch((e: unknown) => logger.warn({ err: e }, "housekeeping failed"));
  }

  return {
    routes: routes(handler),
    checks,
    handler,
    supervisor,
    watcher,
    routingTable,
    door,
    rawProtocols: door ? [door] : [],
    keyPoolSize,
    start(running) {
      server = running;
      instanceWakeups.start();
      routingTable?.start();
      door?.attachMetrics(running.metrics);
      registerPoolMetrics(running.metrics, () => supervisor.pool.status());
      // Filled once the service answers, so the keys' prime search does not slow its start.
      keyPool.start();
      if (clients.serverManager !== undefined) startHeartbeat(running, clients.serverManager);
      reconcileThenWatch().catch((e: unknown) =>
        logger.error({ err: e }, "starting the connection watcher failed"),
      );
      housekeeping = setInterval(sweep, 600_000);
      housekeeping.unref();
    },
    async stop() {
      stopped = true;
      // Never waits for a key being generated: its key is dropped when it ends.
      keyPool.close();
      clearInterval(reconciler);
      clearInterval(housekeeping);
      routingTable?.stop();
      // Relayed connections end with the service: clients reconnect (mstsc and FreeRDP do) to
      // the next life, which adopts the instances and routes the same tokens.
      await door?.close();
      await heartbeat?.stop();
      await watcher.stop();
      await supervisor.close(config.stopOnShutdown);
      await instanceWakeups.close();
    },
  };
}
