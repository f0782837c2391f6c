/** session-controller's composition root: config, backends, sessions, timers (leader), server. */
import { ServerManagerService, SessionControllerService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createAuthenticator,
  createClock,
  createLogger,
  createMeshClient,
  createUsageLookup,
  exitOnSignals,
  loadConfig,
  type RunningServer,
  startServer,
} from "@lucid-rdp/runtime";
import { BusWakeups, openBackends, runLeaderLoops, sweepExpired } from "@lucid-rdp/storage";
import { readSessionControllerConfig, runtimeDefaults } from "./config.js";
import { consoleRoute, firstOf } from "./console-route.js";
import type { SessionState } from "./domain/session-values.js";
import { errorRules } from "./error-rules.js";
import { rdpFileRoute } from "./http-routes.js";
import { createSessionMetrics } from "./metrics.js";
import { routes } from "./routes.js";
import { SessionControllerHandler } from "./service/session-controller-service.js";
import { ConnectionRepair } from "./sessions/connection-repair.js";
import { ServerFollower, serverReconcileIntervalMs } from "./sessions/server-follower.js";
import { Sessions } from "./sessions/sessions.js";
import type { SessionRecord } from "./store/records.js";
import { sessionControllerSpecs } from "./store/specs.js";

const { runtime, own } = loadConfig(runtimeDefaults, (r) => readSessionControllerConfig(r));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
const clock = createClock(own.testClockFile);
// Every time the controller records follows its clock, so timers and repairs agree on "now".
const backends = openBackends(own.storage, {
  specs: sessionControllerSpecs,
  logger,
  appName: runtime.serviceName,
  now: clock,
});
const { stores, coordination } = backends;
const token = own.meshToken;
const serverManager = own.serverManagerUrl
  ? createMeshClient(ServerManagerService, {
      baseUrl: own.serverManagerUrl,
      deadlineMs: 90_000,
      token: token,
    })
  : undefined;
if (serverManager === undefined) {
  logger.error("SERVER_MANAGER_URL is not set: sessions cannot get servers");
}

// Metrics exist once the server (and its registry) does; transitions before that are not counted.
let onTransition: (from: SessionState, to: SessionState, s: SessionRecord) => void = () =>
  undefined;
const sessions = new Sessions({
  store: stores.sessions,
  audit: stores.auditEvents,
  counters: coordination.counters,
  leases: coordination.leases,
  bus: coordination.bus,
  serverManager,
  logger,
  clock,
  defaults: own.policy,
  bounds: own.bounds,
  caps: own.caps,
  warnBeforeMs: own.warnBeforeMs,
  provisionTimeoutMs: own.provisionTimeoutMs,
  observer: { transitioned: (from, to, s) => onTransition(from, to, s) },
});

// CreateSession's wait for READY wakes on the session events Sessions publishes.
const sessionWakeups = new BusWakeups({
  bus: coordination.bus,
  family: "session",
  onError: (err, retryInMs) =>
    logger.warn({ err, retryInMs }, "session events not followed: waits re-read every second"),
});

let server: RunningServer | undefined;
const handler = new SessionControllerHandler({
  sessions,
  store: stores.sessions,
  audit: stores.auditEvents,
  idempotency: stores.idempotency,
  idempotencyTtlMs: own.storage.idempotencyTtlMs,
  bus: coordination.bus,
  defaults: own.policy,
  warnBeforeMs: own.warnBeforeMs,
  clock,
  shutdownSignal: () => server?.shutdownSignal,
  usage: createUsageLookup(own.resourceMonitorUrl, own.meshToken),
  wakeups: sessionWakeups,
});

const stopLeader = new AbortController();
server = await startServer({
  config: runtime,
  logger,
  routes: routes(handler),
  services: [SessionControllerService],
  sourceInfo: contractsSourceInfo(),
  errorRules,
  checks: backends.checks,
  http: firstOf(
    rdpFileRoute(
      stores.sessions,
      runtime.auth.mode === "jwt" ? createAuthenticator(runtime.auth) : undefined,
    ),
    consoleRoute(own.console, runtime.auth.mode === "jwt"),
  ),
  onShutdown: async () => {
    stopLeader.abort();
    await leader;
    await sessionWakeups.close();
    await backends.close();
  },
});
exitOnSignals(server, logger);
sessionWakeups.start();
const metrics = createSessionMetrics(server.metrics, stores.sessions);
onTransition = metrics.transitioned;

const repair = serverManager
  ? new ConnectionRepair({ store: stores.sessions, sessions, serverManager, logger, clock, token })
  : undefined;

const follower = serverManager
  ? new ServerFollower({ store: stores.sessions, sessions, serverManager, logger })
  : undefined;

/**
 * One replica at a time runs the timers, the repairs, the expiry sweep, and follows the servers
 * (WatchServers for as long as it leads, and a reconcile every `serverReconcileIntervalMs`).
 */
const leader = runLeaderLoops({
  leases: coordination.leases,
  lease: "session-controller:timers",
  ttlMs: Math.max(3 * own.timerIntervalMs, 5_000),
  signal: stopLeader.signal,
  logger,
  // Its first step is a reconcile; it ends with the leadership.
  during: async (signal) => follower?.follow(signal),
  loops: [
    {
      name: "timers",
      everyMs: own.timerIntervalMs,
      run: async (signal) => {
        await sessions.timersTick(signal);
        await sessions.repairTick();
        await sessions.relayTick(signal);
        await sweepExpired(stores, clock(), own.storage.auditRetentionMs, { signal });
      },
    },
    ...(repair
      ? [
          {
            name: "connection repair",
            everyMs: own.connectionPollMs,
            run: (s: AbortSignal) => repair.tick(s),
          },
        ]
      : []),
    ...(follower
      ? [
          {
            name: "server reconcile",
            everyMs: serverReconcileIntervalMs,
            delayFirst: true,
            run: (s: AbortSignal) => follower.reconcile(s),
          },
        ]
      : []),
  ],
});

logger.info(
  { serverManager: own.serverManagerUrl ?? "none", caps: own.caps, backends: backends.kind },
  "session-controller ready",
);
