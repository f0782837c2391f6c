/**
 * server-manager's composition root: config, backends, repositories, orchestrator, server, and the
 * leader's loops (the reaper with the expiry sweep, and the outbox relay).
 */
import { ServerManagerService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createHostHealthLookup,
  createLogger,
  createUsageLookup,
  exitOnSignals,
  loadConfig,
  type RunningServer,
  startServer,
} from "@lucid-rdp/runtime";
import {
  BusWakeups,
  openBackends,
  retryUntilDone,
  runLeaderLoops,
  sweepExpired,
} from "@lucid-rdp/storage";
import { XrdpNodeClients } from "./clients/xrdp-node-clients.js";
import { readServerManagerConfig, runtimeDefaults } from "./config.js";
import { errorRules } from "./error-rules.js";
import { NodeRepository } from "./nodes/node-repository.js";
import { seedStaticNodes } from "./nodes/static-nodes.js";
import { routes } from "./routes.js";
import { Orchestrator } from "./servers/orchestrator.js";
import { Reaper } from "./servers/reaper.js";
import { ServerRepository } from "./servers/server-repository.js";
import { ServerManagerHandler } from "./service/server-manager-service.js";
import { serverManagerSpecs } from "./store/specs.js";

const { runtime, own } = loadConfig(runtimeDefaults, (r) => readServerManagerConfig(r));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
const backends = openBackends(own.storage, {
  specs: serverManagerSpecs,
  logger,
  appName: runtime.serviceName,
});
const { stores, coordination } = backends;
const clients = new XrdpNodeClients({ deadlineMs: own.nodeDeadlineMs, token: own.meshToken });
const repo = new ServerRepository({
  servers: stores.servers,
  bus: coordination.bus,
  audit: stores.auditEvents,
  logger,
});
const nodeRepo = new NodeRepository({
  nodes: stores.nodes,
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
  clients,
  logger,
  hostHealth: createHostHealthLookup(own.resourceMonitorUrl, own.meshToken),
});
const reaper = new Reaper({
  orchestrator,
  servers: stores.servers,
  nodes: stores.nodes,
  nodeRepo,
  ports: coordination.ports,
  clients,
  logger,
  provisioningTimeoutMs: own.provisioningTimeoutMs,
});

// CreateServer's wait for READY wakes on the server events the orchestrator publishes.
const serverWakeups = new BusWakeups({
  bus: coordination.bus,
  family: "server",
  onError: (err, retryInMs) =>
    logger.warn({ err, retryInMs }, "server events not followed: waits re-read every second"),
});

let server: RunningServer | undefined;
const handler = new ServerManagerHandler({
  orchestrator,
  servers: stores.servers,
  nodes: stores.nodes,
  ports: coordination.ports,
  nodeRepo,
  bus: coordination.bus,
  defaultDeleteGraceMs: own.defaultDeleteGraceMs,
  maxNodes: own.maxNodes,
  usage: createUsageLookup(own.resourceMonitorUrl, own.meshToken),
  shutdownSignal: () => server?.shutdownSignal,
  wakeups: serverWakeups,
});

const stopLeader = new AbortController();
server = await startServer({
  config: runtime,
  logger,
  routes: routes(handler),
  services: [ServerManagerService],
  sourceInfo: contractsSourceInfo(),
  errorRules,
  checks: backends.checks,
  onShutdown: async () => {
    stopLeader.abort();
    await leader;
    await serverWakeups.close();
    await backends.close();
  },
});
exitOnSignals(server, logger);
serverWakeups.start();

/** How often the leader relays outbox entries, and how old an entry must be (its writer died). */
const relayIntervalMs = 2_000;
const relayAfterMs = 5_000;

/** One replica at a time runs the reaper, the expiry sweep and the outbox relay. */
const leader = (async () => {
  // Static nodes go into the store once it answers.
  await retryUntilDone("static nodes stored", () => seedStaticNodes(stores.nodes, own), {
    signal: stopLeader.signal,
    logger,
  });
  await runLeaderLoops({
    leases: coordination.leases,
    lease: "server-manager:reaper",
    ttlMs: Math.max(3 * own.reaperIntervalMs, 5_000),
    signal: stopLeader.signal,
    logger,
    loops: [
      {
        name: "reaper",
        everyMs: own.reaperIntervalMs,
        run: async (signal) => {
          await reaper.runOnce(signal);
          await sweepExpired(stores, new Date(), own.storage.auditRetentionMs, { signal });
        },
      },
      {
        name: "outbox relay",
        everyMs: relayIntervalMs,
        run: (signal) => repo.relayOnce(relayAfterMs, { signal }),
      },
    ],
  });
})();

logger.info(
  { staticNodes: own.staticNodes.map((n) => n.id), backends: backends.kind },
  "server-manager ready",
);
