/** session-controller's process: config, logger, backends, clients, createApp, server, signals. */
import { SessionControllerService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createClock,
  createLogger,
  exitOnConfigError,
  exitOnSignals,
  listenOrExit,
  loadConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import { createApp } from "./app.js";
import { createClients } from "./clients/create-clients.js";
import { readSessionControllerConfig, runtimeDefaults } from "./config.js";
import { errorRules } from "./error-rules.js";
import { sessionControllerSpecs } from "./store/specs.js";

const { runtime, own } = loadConfig(runtimeDefaults, (r) => readSessionControllerConfig(r));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
const clock = createClock(own.testClockFile);
// Every time the controller records follows its clock, so timers and repairs agree on "now".
// A state file held by another process: one line naming DATA_DIR, exit 2.
const backends = exitOnConfigError(() =>
  openBackends(own.storage, {
    specs: sessionControllerSpecs,
    logger,
    appName: runtime.serviceName,
    now: clock,
  }),
);
const clients = createClients(own);
if (clients.serverManager === undefined) {
  logger.error("SERVER_MANAGER_URL is not set: sessions cannot get servers");
}
const app = createApp(own, backends, clients, { logger, clock, auth: runtime.auth });

const server = await listenOrExit(
  startServer({
    config: runtime,
    logger,
    routes: app.routes,
    services: [SessionControllerService],
    sourceInfo: contractsSourceInfo(),
    errorRules,
    checks: backends.checks,
    http: app.http,
    onShutdown: async () => {
      await app.stop();
      await backends.close();
    },
  }),
);
exitOnSignals(server, logger);
app.start(server);

logger.info(
  { serverManager: own.serverManagerUrl ?? "none", caps: own.caps, backends: backends.kind },
  "session-controller ready",
);
