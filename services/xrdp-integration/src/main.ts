/**
 * xrdp-integration's process: config, the display range's lock, backends, clients of the services
 * it calls, createApp, server, signals. The only part of the mesh that touches real RDP servers.
 */
import { XrdpIntegrationService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createLogger,
  exitOnConfigError,
  exitOnSignals,
  listenOrExit,
  loadConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import { createApp } from "./app.js";
import { createServerManagerClient, createSessionControllerClient } from "./clients/index.js";
import { readXrdpIntegrationConfig, runtimeDefaults } from "./config.js";
import { errorRules } from "./error-rules.js";
import { DisplayRangeLock, DisplayRangeTakenError } from "./host/display-range-lock.js";
import { loadOrCreateRoutingKey } from "./host/routing-key-file.js";
import { xrdpVersion } from "./host/xrdp-version.js";
import { xrdpIntegrationSpecs } from "./store/specs.js";

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
// A state file held by another process: one line naming DATA_DIR, exit 2.
const backends = exitOnConfigError(() =>
  openBackends(own.storage, {
    specs: xrdpIntegrationSpecs,
    logger,
    appName: runtime.serviceName,
  }),
);

if (own.xrdpBin === undefined) {
  logger.error({ reason: own.xrdpMissingReason }, "xrdp is missing: instances cannot be started");
}

const app = createApp(
  own,
  backends,
  {
    serverManager:
      own.serverManagerUrl !== undefined
        ? createServerManagerClient({ baseUrl: own.serverManagerUrl, token: own.meshToken })
        : undefined,
    sessionController: own.sessionControllerUrl
      ? createSessionControllerClient({ baseUrl: own.sessionControllerUrl, token: own.meshToken })
      : undefined,
  },
  {
    logger,
    xrdpVersion: await xrdpVersion(own.xrdpBin),
    // Kept in the state directory, so the tokens of instances a restart adopts stay valid.
    routingKey: own.rdpDoor ? await loadOrCreateRoutingKey(own.stateDir) : undefined,
  },
);

const server = await listenOrExit(
  startServer({
    config: runtime,
    logger,
    routes: app.routes,
    services: [XrdpIntegrationService],
    sourceInfo: contractsSourceInfo(),
    errorRules,
    checks: app.checks,
    rawProtocols: app.rawProtocols,
    onShutdown: async () => {
      await app.stop();
      await displayLock?.release();
      await backends.close();
    },
  }),
);
exitOnSignals(server, logger);
app.start(server);
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
    tlsKeyPool: app.keyPoolSize,
    rdpDoor: own.rdpDoor ? `on, port ${server.port}` : "off",
    warmPool: own.warmPoolSize,
  },
  "xrdp-integration ready",
);
