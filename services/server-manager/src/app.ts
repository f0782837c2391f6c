/**
 * server-manager's composition root: repositories, orchestrator, reaper, handler, routes, the
 * CreateServer wake-ups and the leader's loops (the reaper with the expiry sweep, and the outbox
 * relay), from the config, the opened backends and the clients. main.ts, the tests and the bench
 * all build the service with it.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { type Clock, createLogger, type Logger, systemClock } from "@lucid-rdp/runtime";
import {
  type Backends,
  BusWakeups,
  retryUntilDone,
  runLeaderLoops,
  sweepExpired,
} from "@lucid-rdp/storage";
import type { ServerManagerClients } from "./clients/server-manager-clients.js";
import type { ServerManagerConfig } from "./config.js";
import { NodeRepository } from "./nodes/node-repository.js";
import { seedStaticNodes } from "./nodes/static-nodes.js";
import { routes } from "./routes.js";
import { Orchestrator } from "./servers/orchestrator.js";
import { Reaper } from "./servers/reaper.js";
import { ServerRepository } from "./servers/server-repository.js";
import { ServerManagerHandler } from "./service/server-manager-service.js";
import type { serverManagerSpecs } from "./store/specs.js";

/** server-manager's backends: its collections (store/specs.ts) and the coordination. */
export type ServerManagerBackends = Pick<
  Backends<typeof serverManagerSpecs>,
  "stores" | "coordination"
>;

/** Options of {@link createApp}. */
export interface AppDeps {
  /** @default a silent logger */
  readonly logger?: Logger;
  /** The wall clock. @default systemClock */
  readonly clock?: Clock;
  /** Aborts when the server begins to shut down (ends WatchServers streams). @default none */
  readonly shutdownSignal?: () => AbortSignal | undefined;
}

/** server-manager, composed; `start()` its background work once the server listens. */
export interface App {
  /** Registers ServerManagerService (startServer's and createRouterTransport's `routes`). */
  readonly routes: (router: ConnectRouter) => void;
  readonly handler: ServerManagerHandler;
  readonly orchestrator: Orchestrator;
  readonly reaper: Reaper;
  readonly repo: ServerRepository;
  readonly nodeRepo: NodeRepository;
  /** Starts the wake-ups and the leader's work (static nodes stored, then the loops). */
  start(): void;
  /** Stops what start() started and waits for it; the backends stay open. */
  stop(): Promise<void>;
}

/** How often the leader relays outbox entries, and how old an entry must be (its writer died). */
const relayIntervalMs = 2_000;
const relayAfterMs = 5_000;

/** Builds server-manager over `backends` and `clients`. */
export function createApp(
  config: ServerManagerConfig,
  backends: ServerManagerBackends,
  clients: ServerManagerClients,
  deps: AppDeps = {},
): App {
  const logger = deps.logger ?? createLogger({ service: "server-manager", level: "silent" });
  const clock = deps.clock ?? systemClock;
  const { stores, coordination } = backends;
  const repo = new ServerRepository({
    servers: stores.servers,
    bus: coordination.bus,
    audit: stores.auditEvents,
    logger,
    clock,
  });
  const nodeRepo = new NodeRepository({
    nodes: stores.nodes,
    servers: stores.servers,
    bus: coordination.bus,
    audit: stores.auditEvents,
    logger,
  });
  const orchestrator = new Orchestrator({
    repo,
    servers: stores.servers,
    nodes: stores.nodes,
    ports: coordination.ports,
    leases: coordination.leases,
    clients: clients.nodes,
    logger,
    hostHealth: clients.hostHealth,
    clock,
  });
  const reaper = new Reaper({
    orchestrator,
    servers: stores.servers,
    nodeRepo,
    ports: coordination.ports,
    clients: clients.nodes,
    logger,
    provisioningTimeoutMs: config.provisioningTimeoutMs,
    clock,
  });

  // CreateServer's wait for READY wakes on the server events the orchestrator publishes.
  const wakeups = new BusWakeups({
    bus: coordination.bus,
    family: "server",
    onError: (err, retryInMs) =>
      logger.warn({ err, retryInMs }, "server events not followed: waits re-read every second"),
  });

  const handler = new ServerManagerHandler({
    orchestrator,
    servers: repo,
    ports: coordination.ports,
    nodeRepo,
    bus: coordination.bus,
    defaultDeleteGraceMs: config.defaultDeleteGraceMs,
    maxNodes: config.maxNodes,
    usage: clients.usage,
    shutdownSignal: deps.shutdownSignal ?? (() => undefined),
    wakeups,
    clock,
  });

  const stopLeader = new AbortController();
  let leader: Promise<void> | undefined;

  /** One replica at a time runs the reaper, the expiry sweep and the outbox relay. */
  const lead = async () => {
    // Static nodes go into the store once it answers.
    await retryUntilDone("static nodes stored", () => seedStaticNodes(stores.nodes, config), {
      signal: stopLeader.signal,
      logger,
    });
    await runLeaderLoops({
      leases: coordination.leases,
      lease: "server-manager:reaper",
      ttlMs: Math.max(3 * config.reaperIntervalMs, 5_000),
      signal: stopLeader.signal,
      logger,
      loops: [
        {
          name: "reaper",
          everyMs: config.reaperIntervalMs,
          run: async (signal) => {
            await reaper.runOnce(signal);
            await sweepExpired(stores, clock(), config.storage.auditRetentionMs, { signal });
          },
        },
        {
          name: "outbox relay",
          everyMs: relayIntervalMs,
          run: (signal) => repo.relayOnce(relayAfterMs, { signal }),
        },
      ],
    });
  };

  return {
    routes: routes(handler),
    handler,
    orchestrator,
    reaper,
    repo,
    nodeRepo,
    start() {
      if (leader !== undefined) return;
      wakeups.start();
      leader = lead();
    },
    async stop() {
      stopLeader.abort();
      await leader;
      await wakeups.close();
    },
  };
}
