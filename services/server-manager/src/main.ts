/** server-manager's process: config, logger, backends and clients, then createApp and the server. */
import { ServerManagerService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createLogger,
  exitOnConfigError,
  exitOnSignals,
  listenOrExit,
  loadConfig,
  type RunningServer,
  startServer,
} from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import { createApp } from "./app.js";
import { createServerManagerClients } from "./clients/server-manager-clients.js";
import { readServerManagerConfig, runtimeDefaults } from "./config.js";
import { errorRules } from "./error-rules.js";
import { serverManagerSpecs } from "./store/specs.js";

const { runtime, own } = loadConfig(runtimeDefaults, (r) => readServerManagerConfig(r));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
// A state file held by another process: one line naming DATA_DIR, exit 2.
const backends = exitOnConfigError(() =>
  openBackends(own.storage, {
    specs: serverManagerSpecs,
    logger,
    appName: runtime.serviceName,
  }),
);
let server: RunningServer | undefined;
const app = createApp(own, backends, createServerManagerClients(own), {
  logger,
  shutdownSignal: () => server?.shutdownSignal,
});

server = await listenOrExit(
  startServer({
    config: runtime,
    logger,
    routes: app.routes,
    services: [ServerManagerService],
    sourceInfo: contractsSourceInfo(),
    errorRules,
    checks: backends.checks,
    onShutdown: async () => {
      await app.stop();
      await backends.close();
    },
  }),
);
exitOnSignals(server, logger);
app.start();

logger.info(
  { staticNodes: own.staticNodes.map((n) => n.id), backends: backends.kind },
  "server-manager ready",
);
