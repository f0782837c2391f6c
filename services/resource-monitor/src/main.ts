/** resource-monitor's composition root: config, backends, samplers, alerts, exporter, server. */
import { existsSync } from "node:fs";
import {
  ResourceMonitorService,
  SessionControllerService,
  XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import {
  createClock,
  createLogger,
  createMeshClient,
  EnvReader,
  exitOnSignals,
  loadConfig,
  type RunningServer,
  startServer,
} from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import { Alerts } from "./alerts/alerts.js";
import { readResourceMonitorConfig, runtimeDefaults } from "./config.js";
import { errorRules } from "./error-rules.js";
import { MetricsExporter } from "./exporter.js";
import { Monitor } from "./monitor.js";
import { routes } from "./routes.js";
import { HostSampler } from "./sampling/host-sampler.js";
import { ProcessSampler } from "./sampling/process-sampler.js";
import { ResourceMonitorHandler } from "./service/resource-monitor-service.js";
import { resourceMonitorSpecs } from "./store/specs.js";

const { runtime, own } = loadConfig(runtimeDefaults, (r) => readResourceMonitorConfig(r));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });

// MONITOR_TEST_CLOCK_FILE: the controllable clock of process tests (real time + offset in ms).
const clockFile = new EnvReader().string("MONITOR_TEST_CLOCK_FILE", {
  pattern: /^\/[A-Za-z0-9._/-]+$/,
  accepts: "an absolute file path",
});
const clock = createClock(clockFile);

const backends = openBackends(own.storage, {
  specs: resourceMonitorSpecs,
  logger,
  appName: runtime.serviceName,
  now: clock,
});
const { stores, coordination } = backends;
const token = own.meshToken;
const xrdp = own.xrdpIntegrationUrl
  ? createMeshClient(XrdpIntegrationService, {
      baseUrl: own.xrdpIntegrationUrl,
      deadlineMs: 3_000,
      token,
    })
  : undefined;
const sessionController = own.sessionControllerUrl
  ? createMeshClient(SessionControllerService, {
      baseUrl: own.sessionControllerUrl,
      deadlineMs: 5_000,
      token,
    })
  : undefined;

let server: RunningServer | undefined;
let monitor: Monitor | undefined;
const alerts = new Alerts({
  rules: stores.alertRules,
  alerts: stores.alerts,
  bus: coordination.bus,
  logger,
  clock,
  series: (metric) => monitor?.series(metric) ?? [],
  nodeId: own.nodeId,
});

const exporter = new MetricsExporter(own.nodeId);
monitor = new Monitor({
  host: new HostSampler({ procRoot: own.procRoot }),
  processes: new ProcessSampler({ procRoot: own.procRoot }),
  exporter,
  xrdp,
  nodeId: own.nodeId,
  intervalMs: own.intervalMs,
  historySamples: own.historySamples,
  logger,
  afterSample: () =>
    alerts
      .evaluateAll()
      .then(async () => {
        await alerts.relay();
      })
      .catch((e: unknown) => logger.warn({ err: e }, "alert evaluation failed")),
});
const sampling = monitor;
const handler = new ResourceMonitorHandler({
  monitor: sampling,
  alerts,
  rules: stores.alertRules,
  alertStore: stores.alerts,
  idempotency: stores.idempotency,
  idempotencyTtlMs: own.storage.idempotencyTtlMs,
  bus: coordination.bus,
  oneOff: new ProcessSampler({ procRoot: own.procRoot }),
  sessionController,
  intervalMs: own.intervalMs,
  xrdpInstalled: () => existsSync(own.xrdpBin),
  criticalMounts: ["/"],
  diskFatalPercent: own.diskFullRatio * 100,
  memoryFatalAvailablePercent: own.memoryLowRatio * 100,
  clock,
  shutdownSignal: () => server?.shutdownSignal,
});

server = await startServer({
  config: runtime,
  logger,
  routes: routes(handler),
  services: [ResourceMonitorService],
  sourceInfo: contractsSourceInfo(),
  errorRules,
  checks: [
    ...backends.checks,
    {
      name: "sampling",
      check: async () => {
        const last = sampling.lastSampleTime;
        if (last && Date.now() - last.getTime() > 3 * own.intervalMs + 1_000) {
          throw new Error(`no sample since ${last.toISOString()}`);
        }
      },
    },
  ],
  onShutdown: async () => {
    await sampling.stop();
    await backends.close();
  },
});
exitOnSignals(server, logger);
exporter.register(server.metrics);
monitor.start();
logger.info(
  {
    nodeId: own.nodeId,
    intervalMs: own.intervalMs,
    xrdpIntegration: own.xrdpIntegrationUrl ?? "none",
    backends: backends.kind,
  },
  "resource-monitor ready",
);
