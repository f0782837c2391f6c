/**
 * The door of the rdp-door benchmark: xrdp-integration's RdpDoor as the service serves it, a raw
 * protocol (first byte 0x03) on packages/runtime's startServer, alone on the port (no RPCs of its
 * own; health and /metrics as every service has). Config comes from env like every service's
 * (PORT, HOST, LOG_LEVEL ...); the routes from BENCH_DOOR_ROUTES, `<token>=<port>` pairs separated
 * by commas, each token leading to xrdp (or a stand-in) on 127.0.0.1:<port>. The per-source connect
 * limits are raised out of the way: every connection of the benchmark comes from 127.0.0.1, and
 * the limits are not what it measures. Prints "ready <port>" on stderr once it listens.
 */
import { createLogger, exitOnSignals, loadConfig, startServer } from "@lucid-rdp/runtime";
import { type DoorLookup, RdpDoor, runtimeDefaults } from "@lucid-rdp/xrdp-integration";

const routes = new Map<string, number>();
for (const pair of (process.env.BENCH_DOOR_ROUTES ?? "").split(",").filter((p) => p !== "")) {
  const [token, port] = pair.split("=");
  if (token === undefined || port === undefined || !/^\d+$/.test(port)) {
    process.stderr.write(`BENCH_DOOR_ROUTES: "${pair}" is not <token>=<port>\n`);
    process.exit(2);
  }
  routes.set(token, Number(port));
}

const { runtime } = loadConfig(runtimeDefaults, () => ({}));
const logger = createLogger({ service: "bench-rdp-door", level: runtime.logLevel });
const unlimited = 1_000_000;
const door = new RdpDoor({
  logger,
  lookup: (token): DoorLookup | undefined => {
    const port = routes.get(token);
    return port === undefined
      ? undefined
      : { kind: "route", instanceId: `bench-${port}`, serverId: `bench-${port}`, port };
  },
  limits: {
    ratePerMinute: unlimited,
    burst: unlimited,
    maxPendingPerSource: unlimited,
    maxPending: unlimited,
  },
});
const server = await startServer({
  config: runtime,
  logger,
  routes: () => {},
  services: [],
  rawProtocols: [door],
  onShutdown: () => door.close(),
});
door.attachMetrics(server.metrics);
exitOnSignals(server, logger);
process.stderr.write(`ready ${server.port}\n`);
