/**
 * session-controller's one composition root: sessions, the handler, its routes and HTTP routes,
 * CreateSession's wake-ups, the server follower, the connection repair and the leader loops, from
 * the typed config, the opened backends and the clients. Used by main.ts, the tests and the bench.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import {
  type AuthConfig,
  type Clock,
  createAuthenticator,
  createLogger,
  type HttpHandler,
  type Logger,
  systemClock,
} from "@lucid-rdp/runtime";
import { type Backends, BusWakeups, runLeaderLoops, sweepExpired } from "@lucid-rdp/storage";
import type { Registry } from "prom-client";
import type { SessionControllerClients } from "./clients/clients.js";
import { meshNodeClients } from "./clients/create-clients.js";
import type { SessionControllerConfig } from "./config.js";
import { consoleRoute, firstOf } from "./console-route.js";
import type { SessionState } from "./domain/session-values.js";
import { rdpFileRoute } from "./http-routes.js";
import { createSessionMetrics } from "./metrics.js";
import { routes } from "./routes.js";
import { SessionControllerHandler } from "./service/session-controller-service.js";
import { ConnectionRepair } from "./sessions/connection-repair.js";
import { ServerFollower, serverReconcileIntervalMs } from "./sessions/server-follower.js";
import { Sessions } from "./sessions/sessions.js";
import { AuditReader } from "./store/audit-reader.js";
import type { SessionRecord } from "./store/records.js";
import { RequestLedger } from "./store/request-ledger.js";
import type { sessionControllerSpecs } from "./store/specs.js";

/** The backends createApp uses: the service's stores and the coordination (no health, no close). */
export type SessionControllerBackends = Pick<
  Backends<typeof sessionControllerSpecs>,
  "stores" | "coordination"
> &
  Partial<Pick<Backends<typeof sessionControllerSpecs>, "kind">>;

/** Optional parts of createApp. */
export interface SessionControllerAppDeps {
  /** @default a silent logger */
  readonly logger?: Logger;
  /** The clock of every time the controller records. @default systemClock */
  readonly clock?: Clock;
  /** How callers are authenticated (the .rdp route and the console page). @default disabled */
  readonly auth?: AuthConfig;
}

/** What `start` may hook into: the running server's registry and shutdown signal. */
export interface SessionControllerStartOptions {
  /** The server's Prometheus registry: the session metrics are added to it. @default none */
  readonly metrics?: Registry;
  /** Aborted when shutdown begins: WatchSessions streams end on it. @default none */
  readonly shutdownSignal?: AbortSignal;
}

/** session-controller, composed. */
export interface SessionControllerApp {
  readonly sessions: Sessions;
  readonly handler: SessionControllerHandler;
  /** Registers the RPCs (startServer, createRouterTransport). */
  readonly routes: (router: ConnectRouter) => void;
  /** GET /sessions/{id}.rdp and the console page. */
  readonly http: HttpHandler;
  /** Ends sessions whose server ended (only with a server-manager). */
  readonly follower?: ServerFollower;
  /** Polls the nodes for missed connection reports (only with a server-manager). */
  readonly repair?: ConnectionRepair;
  /** Starts the background work: wake-ups and the leader loops. Call once the server listens. */
  start(opts?: SessionControllerStartOptions): void;
  /** Stops what `start` started (the backends stay open). */
  stop(): Promise<void>;
}

/** Builds session-controller from its config, its backends and its clients. */
export function createApp(
  config: SessionControllerConfig,
  backends: SessionControllerBackends,
  clients: SessionControllerClients,
  deps: SessionControllerAppDeps = {},
): SessionControllerApp {
  const { stores, coordination } = backends;
  const logger = deps.logger ?? createLogger({ service: "session-controller", level: "silent" });
  const clock = deps.clock ?? systemClock;
  const { serverManager } = clients;

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
    defaults: config.policy,
    bounds: config.bounds,
    caps: config.caps,
    warnBeforeMs: config.warnBeforeMs,
    provisionTimeoutMs: config.provisionTimeoutMs,
    observer: { transitioned: (from, to, s) => onTransition(from, to, s) },
  });

  // CreateSession's wait for READY wakes on the session events Sessions publishes.
  const wakeups = new BusWakeups({
    bus: coordination.bus,
    family: "session",
    onError: (err, retryInMs) =>
      logger.warn({ err, retryInMs }, "session events not followed: waits re-read every second"),
  });

  let shutdownSignal: AbortSignal | undefined;
  const handler = new SessionControllerHandler({
    sessions,
    records: sessions.repository,
    auditLog: new AuditReader(stores.auditEvents),
    requests: new RequestLedger(stores.idempotency, config.storage.idempotencyTtlMs),
    bus: coordination.bus,
    defaults: config.policy,
    warnBeforeMs: config.warnBeforeMs,
    clock,
    shutdownSignal: () => shutdownSignal,
    usage: clients.usage,
    wakeups,
  });

  const jwt = deps.auth?.mode === "jwt" ? deps.auth : undefined;
  const http = firstOf(
    rdpFileRoute(sessions.repository, jwt ? createAuthenticator(jwt) : undefined),
    consoleRoute(config.console, jwt !== undefined),
  );

  const repair = serverManager
    ? new ConnectionRepair({
        store: stores.sessions,
        sessions,
        serverManager,
        logger,
        clock,
        nodeClient: clients.nodeClient ?? meshNodeClients(config.meshToken),
      })
    : undefined;
  const follower = serverManager
    ? new ServerFollower({ store: stores.sessions, sessions, serverManager, logger })
    : undefined;

  const stopLeader = new AbortController();
  let leader: Promise<void> | undefined;
  let started = false;

  return {
    sessions,
    handler,
    routes: routes(handler),
    http,
    follower,
    repair,
    start(opts = {}) {
      if (started) return;
      started = true;
      shutdownSignal = opts.shutdownSignal;
      wakeups.start();
      // In-process counters start empty while the sessions were kept (the SQLite file): the caps
      // are counted again from the store, once, before the first refusal could be wrong.
      if (backends.kind?.coordination === "memory" && backends.kind.state !== "memory") {
        sessions.caps.recountAll(stopLeader.signal).then(
          (held) => logger.info({ held }, "session caps counted from the stored sessions"),
          (err: unknown) => logger.warn({ err }, "session caps not counted from the store"),
        );
      }
      if (opts.metrics)
        onTransition = createSessionMetrics(opts.metrics, stores.sessions).transitioned;
      /**
       * One replica at a time runs the timers, the repairs, the expiry sweep, and follows the
       * servers (WatchServers for as long as it leads, and a reconcile every
       * `serverReconcileIntervalMs`).
       */
      leader = runLeaderLoops({
        leases: coordination.leases,
        lease: "session-controller:timers",
        ttlMs: Math.max(3 * config.timerIntervalMs, 5_000),
        signal: stopLeader.signal,
        logger,
        // Its first step is a reconcile; it ends with the leadership.
        during: async (signal) => follower?.follow(signal),
        loops: [
          {
            name: "timers",
            everyMs: config.timerIntervalMs,
            run: async (signal) => {
              await sessions.timersTick(signal);
              await sessions.repairTick();
              await sessions.relayTick(signal);
              await sweepExpired(stores, clock(), config.storage.auditRetentionMs, { signal });
            },
          },
          ...(repair
            ? [
                {
                  name: "connection repair",
                  everyMs: config.connectionPollMs,
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
    },
    async stop() {
      stopLeader.abort();
      await leader;
      await wakeups.close();
    },
  };
}
