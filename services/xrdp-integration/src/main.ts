/**
 * xrdp-integration's composition root: config, backends, supervisor, connection watcher, sesman,
 * server, signals. The only part of the mesh that touches real RDP servers.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { XrdpIntegrationService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createLogger,
  exitOnSignals,
  loadConfig,
  type RunningServer,
  startServer,
} from "@lucid-rdp/runtime";
import { BusWakeups, openBackends, sweepExpired } from "@lucid-rdp/storage";
import { readXrdpIntegrationConfig, runtimeDefaults } from "./config.js";
import { blockSizeFor } from "./domain/display-blocks.js";
import { buildPolicy } from "./domain/policy.js";
import { errorRules } from "./error-rules.js";
import { DisplayRangeLock, DisplayRangeTakenError } from "./host/display-range-lock.js";
import { routes } from "./routes.js";
import { XrdpIntegrationHandler } from "./service/xrdp-integration-service.js";
import { xrdpIntegrationSpecs } from "./store/specs.js";
import { sessionControllerReporter } from "./supervisor/connection-reporter.js";
import { ConnectionWatcher } from "./supervisor/connection-watcher.js";
import { hostSesmanPort } from "./supervisor/instance-sesman.js";
import { InstanceSupervisor } from "./supervisor/instance-supervisor.js";
import { describeFailingChecks, NodeHeartbeat } from "./supervisor/node-heartbeat.js";
import { TlsKeyPool } from "./supervisor/tls-key-pool.js";

const { runtime, own } = loadConfig(runtimeDefaults, (r, rt) => readXrdpIntegrationConfig(r, rt));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
// Two services running desktops on the same displays would end each other's: the later refuses.
const displayLock =
  own.sesman === "managed"
    ? await DisplayRangeLock.acquire(own.displayRange).catch((e: unknown) => {
        if (!(e instanceof DisplayRangeTakenError)) throw e;
        process.stderr.write(`XRDP_DISPLAY_RANGE: ${e.message}\n`);
        process.exit(2);
      })
    : undefined;
const backends = openBackends(own.storage, {
  specs: xrdpIntegrationSpecs,
  logger,
  appName: runtime.serviceName,
});
const { defaults, floor } = buildPolicy(own);

async function xrdpVersion(bin: string | undefined): Promise<string | undefined> {
  if (bin === undefined) return undefined;
  try {
    const { stdout } = await promisify(execFile)(bin, ["--version"], { timeout: 5_000 });
    return /xrdp\s+([0-9][0-9A-Za-z.~+-]*)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

if (own.xrdpBin === undefined) {
  logger.error({ reason: own.xrdpMissingReason }, "xrdp is missing: instances cannot be started");
}

// Keys ahead of time only where instances generate their own: not with one certificate for all
// (XRDP_TLS_CERT/KEY), nor without xrdp, where no instance starts.
const keyPoolSize = own.tls === undefined && own.xrdpBin !== undefined ? own.tlsKeyPool : 0;
const keyPool = new TlsKeyPool({ size: keyPoolSize, logger });
// StartInstance's wait for READY wakes on the instance events the supervisor publishes.
const instanceWakeups = new BusWakeups({
  bus: backends.coordination.bus,
  family: "instance",
  onError: (err, retryInMs) =>
    logger.warn({ err, retryInMs }, "instance events not followed: waits re-read every second"),
});

const installedXrdpVersion = await xrdpVersion(own.xrdpBin);
const supervisor = new InstanceSupervisor({
  store: backends.stores.instances,
  bus: backends.coordination.bus,
  logger,
  xrdpBin: own.xrdpBin,
  xrdpMissingReason: own.xrdpMissingReason,
  stateDir: own.stateDir,
  listenAddress: own.listenAddress,
  maxInstances: own.maxInstances,
  defaults,
  floor,
  tls: own.tls,
  keyPool,
  wakeups: instanceWakeups,
  readinessTimeoutMs: own.readinessTimeoutMs,
  stopGraceMs: own.stopGraceMs,
  restartBackoffMs: own.restartBackoffMs,
  maxRestartBackoffMs: own.maxRestartBackoffMs,
  crashLoopExits: own.crashLoopExits,
  crashLoopWindowMs: own.crashLoopWindowMs,
  healthIntervalMs: own.healthIntervalMs,
  // XRDP_SESMAN=managed: a sesman per instance, and the desktops are the service's to end.
  sesmanBin: own.sesman === "managed" ? own.sesmanBin : undefined,
  sesmanPort: hostSesmanPort(),
  displayRange: own.displayRange,
  xrdpVersion: installedXrdpVersion,
});

const watcher = new ConnectionWatcher({
  store: backends.stores.instances,
  bus: backends.coordination.bus,
  logger,
  pollMs: own.connectionPollMs,
  report: own.sessionControllerUrl
    ? sessionControllerReporter(own.sessionControllerUrl, own.meshToken)
    : undefined,
});

let server: RunningServer | undefined;
let heartbeat: NodeHeartbeat | undefined;
let reconciler: NodeJS.Timeout | undefined;
const handler = new XrdpIntegrationHandler({
  supervisor,
  instances: backends.stores.instances,
  bus: backends.coordination.bus,
  connections: watcher,
  health: () => server?.health,
  nodeId: own.nodeId,
  xrdpBin: own.xrdpBin,
  xrdpVersion: installedXrdpVersion,
  maxInstances: own.maxInstances,
  startTime: new Date(),
  serviceVersion: process.env.npm_package_version ?? "0.1.0",
  shutdownSignal: () => server?.shutdownSignal,
});

server = await startServer({
  config: runtime,
  logger,
  routes: routes(handler),
  services: [XrdpIntegrationService],
  sourceInfo: contractsSourceInfo(),
  errorRules,
  checks: [
    ...backends.checks,
    {
      name: "xrdp",
      check: async () => {
        const a = supervisor.availability();
        if (!a.ok) throw new Error(a.reason);
        if (own.sesman === "managed" && own.sesmanBin === undefined) {
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
  ],
  onShutdown: async () => {
    // Never waits for a key being generated: its key is dropped when it ends.
    keyPool.close();
    clearInterval(reconciler);
    await heartbeat?.stop();
    await watcher.stop();
    await supervisor.close(own.stopOnShutdown);
    await instanceWakeups.close();
    await displayLock?.release();
    await backends.close();
  },
});
exitOnSignals(server, logger);
instanceWakeups.start();
// Filled once the service answers, so the keys' prime search does not slow its start.
keyPool.start();
if (own.serverManagerUrl !== undefined) {
  const running = server;
  heartbeat = new NodeHeartbeat({
    baseUrl: own.serverManagerUrl,
    token: own.meshToken,
    node: {
      nodeId: own.nodeId,
      advertiseHost: own.advertiseHost,
      apiPort: running.port,
      rdpHost: own.rdpHost,
      // Desktops need displays: the node holds no more servers than its range has blocks for.
      maxServers:
        own.sesman === "managed"
          ? Math.max(
              1,
              Math.min(
                own.maxInstances,
                Math.floor(
                  (own.displayRange.last - own.displayRange.first + 1) /
                    blockSizeFor(defaults.maxSessions),
                ),
              ),
            )
          : own.maxInstances,
      portRange: own.portRange,
      labels: own.nodeLabels,
      leaseTtlMs: own.heartbeatTtlMs,
      xrdpVersion: installedXrdpVersion,
    },
    serving: () => running.health.report().status === "SERVING",
    statusMessage: () => describeFailingChecks(running.health.report()),
    logger,
  });
  heartbeat.start();
}
logger.info(
  {
    nodeId: own.nodeId,
    xrdp: own.xrdpBin ?? "missing",
    stateDir: own.stateDir,
    listenAddress: own.listenAddress,
    backends: backends.kind,
    serverManagerUrl: own.serverManagerUrl ?? "unset (static node)",
    advertise: `${own.advertiseHost}:${server.port}`,
    rdpHost: own.rdpHost,
    portRange: `${own.portRange.start}-${own.portRange.end}`,
    heartbeatTtlMs: own.heartbeatTtlMs,
    nodeLabels: own.nodeLabels,
    tlsKeyPool: keyPoolSize,
  },
  "xrdp-integration ready",
);

// Reconcile with the process table once the stores answer (they may be down at start), then
// again at the health interval: a record whose insert was answered by an outage, or a process
// whose instance ended while the store was away, is repaired without waiting for a restart.
void (async () => {
  for (let delay = 500; ; delay = Math.min(delay * 2, 30_000)) {
    try {
      await supervisor.reconcile();
      break;
    } catch (e) {
      logger.warn({ err: e, retryInMs: delay }, "reconciliation postponed");
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  watcher.start();
  reconciler = setInterval(() => {
    supervisor.reconcile().catch((e: unknown) => logger.warn({ err: e }, "reconcile failed"));
  }, own.healthIntervalMs);
  reconciler.unref();
})().catch((e: unknown) => logger.error({ err: e }, "starting the connection watcher failed"));

// Housekeeping: ended instances are kept 24 h (the contract's retention), request ids for their
// TTL; no TTL indexes on FerretDB, so the service deletes them itself.
const retentionMs = 24 * 3600_000;
setInterval(() => {
  const now = Date.now();
  void Promise.all([
    backends.stores.instances.deleteWhere({
      state: { in: ["STOPPED", "FAILED"] },
      updateTime: { lt: new Date(now - retentionMs) },
    }),
    sweepExpired(backends.stores, new Date(now), own.storage.auditRetentionMs),
  ]).catch((e: unknown) => logger.warn({ err: e }, "housekeeping failed"));
}, 600_000).unref();
