/**
 * A runnable service on the runtime, composed exactly as a real service's main.ts is: the
 * full-process tests start it with `tsx` and real env vars. A "ready" JSON line with the port goes
 * to stdout among the logs once it listens.
 */
import { decodeSourceInfo } from "@lucid-rdp/gen/source-info";
import { sourceInfoGzBase64 } from "../../src/gen/source_info.js";
import {
  createLogger,
  exitOnSignals,
  loadConfig,
  type RunningServer,
  startServer,
} from "../../src/index.js";
import { EchoService, echoRoutes } from "./echo-service.js";

const { runtime } = loadConfig({ serviceName: "echo", port: 0 });
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
let running: RunningServer | undefined;
const server = await startServer({
  config: runtime,
  logger,
  routes: (router) => echoRoutes(router, { shutdownSignal: () => running?.shutdownSignal }),
  services: [EchoService],
  sourceInfo: decodeSourceInfo(sourceInfoGzBase64),
});
running = server;
exitOnSignals(server, logger);
