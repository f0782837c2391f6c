/**
 * A runnable service on the runtime, composed exactly as a real service's main.ts is: the
 * full-process tests start it with `tsx` and real env vars. A "ready" JSON line with the port goes
 * to stdout among the logs once it listens.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { decodeSourceInfo } from "@lucid-rdp/gen/source-info";
import { sourceInfoGzBase64 } from "../../src/gen/source_info.js";
import {
  createLogger,
  exitOnSignals,
  listenOrExit,
  loadConfig,
  type RunningServer,
  startServer,
} from "../../src/index.js";
import { EchoService, echoRoutes } from "./echo-service.js";

const { runtime } = loadConfig({ serviceName: "echo", port: 0 });
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
let running: RunningServer | undefined;
const server = await listenOrExit(
  startServer({
    config: runtime,
    logger,
    routes: (router) => echoRoutes(router, { shutdownSignal: () => running?.shutdownSignal }),
    services: [EchoService],
    sourceInfo: decodeSourceInfo(sourceInfoGzBase64),
    // ECHO_SHUTDOWN_WORK_MS: onShutdown waits that long on an unref'd timer, as a service waits for
    // a child it stops (nothing else keeps the event loop alive by then), and logs when done.
    onShutdown: async () => {
      const ms = Number(process.env.ECHO_SHUTDOWN_WORK_MS ?? "0");
      if (ms <= 0) return;
      await new Promise((r) => setTimeout(r, ms).unref());
      logger.info("shutdown work done");
    },
  }),
);
running = server;
exitOnSignals(server, logger);
// ECHO_UNCAUGHT=goaway|other: 200 ms after start an error escapes from a timer: connect-node's late
// GOAWAY error (connect-es#1768), which the service survives, or any other, which ends it.
if (process.env.ECHO_UNCAUGHT !== undefined) {
  const kind = process.env.ECHO_UNCAUGHT;
  setTimeout(() => {
    throw kind === "goaway"
      ? new ConnectError("received GOAWAY without any open streams", Code.Canceled)
      : new Error("boom");
  }, 200);
}
