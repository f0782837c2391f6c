/** resource-monitor's process: config, logger, backends, clients, createApp, server, signals. */
import { ResourceMonitorService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createClock,
  createLogger,
  EnvReader,
  exitOnConfigError,
  exitOnSignals,
  listenOrExit,
  loadConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import { createApp } from "./app.js";
import { createResourceMonitorClients } from "./clients/resource-monitor-clients.js";
import { readResourceMonitorConfig, runtimeDefaults } from "./config.js";
import { errorRules } from "./error-rules.js";
import { resourceMonitorSpecs } from "./store/specs.js";

const { runtime, own } = loadConfig(runtimeDefaults, (r) => readResourceMonitorConfig(r));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });

// MONITOR_TEST_CLOCK_FILE: the controllable clock of process tests (real time + offset in ms).
const clockFile = new EnvReader().string("MONITOR_TEST_CLOCK_FILE", {
  pattern: /^\/[A-Za-z0-9._/-]+$/,
  accepts: "an absolute file path",
});
const clock = createClock(clockFile);

// A state file held by another process: one line naming DATA_DIR, exit 2.
const backends = exitOnConfigError(() =>
  openBackends(own.storage, {
    specs: resourceMonitorSpecs,
    logger,
    appName: runtime.serviceName,
    now: clock,
  }),
);
const app = createApp(own, backends, createResourceMonitorClients(own), { logger, clock });

const server = await listenOrExit(
  startServer({
    config: runtime,
    logger,
    routes: app.routes,
    services: [ResourceMonitorService],
    sourceInfo: contractsSourceInfo(),
    errorRules,
    checks: [...backends.checks, ...app.checks],
    onShutdown: async () => {
      await app.stop();
      await backends.close();
    },
  }),
);
exitOnSignals(server, logger);
app.start(server);
logger.info(
  {
    nodeId: own.nodeId,
    intervalMs: own.intervalMs,
    xrdpIntegration: own.xrdpIntegrationUrl ?? "none",
    backends: backends.kind,
  },
  "resource-monitor ready",
);
