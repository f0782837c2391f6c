/**
 * resource-monitor's composition root: from its config, its opened backends and its downstream
 * clients, the samplers, the monitor, the exporter, the alerts, the handler and the routes. Used
 * alike by main.ts, by in-memory tests (memory backends, fake clients) and by the bench.
 */
import { existsSync } from "node:fs";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  type Clock,
  createLogger,
  type DependencyCheck,
  type Logger,
  systemClock,
} from "@lucid-rdp/runtime";
import type { Backends } from "@lucid-rdp/storage";
import type { Registry } from "prom-client";
import { Alerts } from "./alerting/alerts.js";
import type { ResourceMonitorClients } from "./clients/resource-monitor-clients.js";
import type { ResourceMonitorConfig } from "./config.js";
import { HostHealthChecker } from "./monitoring/host-health-checker.js";
import { MetricsExporter } from "./monitoring/metrics-exporter.js";
import { Monitor } from "./monitoring/monitor.js";
import { routes } from "./routes.js";
import { HostSampler } from "./sampling/host-sampler.js";
import { ProcessSampler } from "./sampling/process-sampler.js";
import { ResourceMonitorHandler } from "./service/resource-monitor-service.js";
import type { resourceMonitorSpecs } from "./store/specs.js";

/** The backends createApp uses: the service's stores and the coordination (bus). */
export type ResourceMonitorBackends = Pick<
  Backends<typeof resourceMonitorSpecs>,
  "stores" | "coordination"
>;

/** Optional collaborators of createApp. */
export interface AppDeps {
  /** @default a silent logger */
  readonly logger?: Logger;
  /** Wall time (the test clock of process tests). @default systemClock */
  readonly clock?: Clock;
  /** Whether the xrdp binary is installed. @default whether config.xrdpBin exists */
  readonly xrdpInstalled?: () => boolean;
}

/** What the server needs from start(): where to add the metrics, and when shutdown begins. */
export interface AppServer {
  /** The registry behind /metrics. */
  readonly metrics?: Registry;
  /** Aborted when shutdown begins: the Watch streams end on it. */
  readonly shutdownSignal?: AbortSignal;
}

/** resource-monitor, wired. */
export interface ResourceMonitorApp {
  /** Registers ResourceMonitorService (for startServer or createRouterTransport). */
  readonly routes: (router: ConnectRouter) => void;
  /** Health checks of the service itself (sampling is not stalled). */
  readonly checks: readonly DependencyCheck[];
  readonly handler: ResourceMonitorHandler;
  readonly monitor: Monitor;
  readonly alerts: Alerts;
  readonly exporter: MetricsExporter;
  /**
   * Starts sampling (each sample then evaluates the alert rules); call after the server listens.
   * `server` adds the exporter's metrics to its registry and ends the Watch streams on shutdown.
   */
  start(server?: AppServer): void;
  /** Stops sampling and waits for the sample under way; does not close the backends. */
  stop(): Promise<void>;
}

/** Builds resource-monitor from its config, its backends and its downstream clients. */
export function createApp(
  config: ResourceMonitorConfig,
  backends: ResourceMonitorBackends,
  clients: ResourceMonitorClients,
  deps: AppDeps = {},
): ResourceMonitorApp {
  const logger = deps.logger ?? createLogger({ service: "resource-monitor", level: "silent" });
  const clock = deps.clock ?? systemClock;
  const { stores, coordination } = backends;
  let shutdownSignal: AbortSignal | undefined;

  let monitor: Monitor | undefined;
  const alerts = new Alerts({
    rules: stores.alertRules,
    alerts: stores.alerts,
    idempotency: stores.idempotency,
    idempotencyTtlMs: config.storage.idempotencyTtlMs,
    bus: coordination.bus,
    logger,
    clock,
    series: (metric) => monitor?.series(metric) ?? [],
    nodeId: config.nodeId,
  });

  const exporter = new MetricsExporter(config.nodeId);
  monitor = new Monitor({
    host: new HostSampler({ procRoot: config.procRoot }),
    processes: new ProcessSampler({ procRoot: config.procRoot }),
    exporter,
    xrdp: clients.xrdp,
    nodeId: config.nodeId,
    intervalMs: config.intervalMs,
    historySamples: config.historySamples,
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
    bus: coordination.bus,
    oneOff: new ProcessSampler({ procRoot: config.procRoot }),
    sessions: clients.sessions,
    hostHealth: new HostHealthChecker({
      monitor: sampling,
      xrdpInstalled: deps.xrdpInstalled ?? (() => existsSync(config.xrdpBin)),
      thresholds: {
        sampleIntervalMs: config.intervalMs,
        criticalMounts: ["/"],
        diskFatalPercent: config.diskFullRatio * 100,
        memoryFatalAvailablePercent: config.memoryLowRatio * 100,
      },
      clock,
    }),
    intervalMs: config.intervalMs,
    clock,
    shutdownSignal: () => shutdownSignal,
  });

  const checks: DependencyCheck[] = [
    {
      name: "sampling",
      check: async () => {
        const last = sampling.lastSampleTime;
        if (last && Date.now() - last.getTime() > 3 * config.intervalMs + 1_000) {
          throw new Error(`no sample since ${last.toISOString()}`);
        }
      },
    },
  ];

  return {
    routes: routes(handler),
    checks,
    handler,
    monitor: sampling,
    alerts,
    exporter,
    start(server) {
      shutdownSignal = server?.shutdownSignal;
      if (server?.metrics) exporter.register(server.metrics);
      sampling.start();
    },
    stop: () => sampling.stop(),
  };
}
