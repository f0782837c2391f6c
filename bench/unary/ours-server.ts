/**
 * "Ours" of the unary-RPC benchmark: session-controller composed as its main.ts composes it
 * (packages/runtime startServer with the same interceptors, error rules, reflection source info
 * and the .rdp HTTP route in front of the RPCs), on the seeded in-memory fixture. Config comes
 * from env like every service's (PORT, HOST, LOG_LEVEL ...). Prints "ready <session id>" on stderr
 * once it listens; its log lines go to stdout as in production.
 */
import { SessionControllerService } from "@lucid-rdp/gen";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import { createLogger, exitOnSignals, loadConfig, startServer } from "@lucid-rdp/runtime";
import { errorRules, rdpFileRoute, runtimeDefaults } from "@lucid-rdp/session-controller";
import { createSessionFixture } from "./fixture.js";

const { runtime } = loadConfig(runtimeDefaults, () => ({}));
const logger = createLogger({ service: runtime.serviceName, level: runtime.logLevel });
const fixture = await createSessionFixture();
const server = await startServer({
  config: runtime,
  logger,
  routes: fixture.app.routes,
  services: [SessionControllerService],
  sourceInfo: contractsSourceInfo(),
  errorRules,
  http: rdpFileRoute(fixture.store, undefined),
});
exitOnSignals(server, logger);
process.stderr.write(`ready ${fixture.sessionId}\n`);
