/**
 * session-controller over memory stores, built by createApp as main.ts builds it, called through
 * the generated client on an in-memory transport: the service-level tests' one wiring.
 */

import type { Client } from "@connectrpc/connect";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { type ServerManagerService, SessionControllerService } from "@lucid-rdp/gen";
import { EnvReader, ErrorMapper, type Logger } from "@lucid-rdp/runtime";
import type { createMemoryCoordination } from "@lucid-rdp/storage";
import { createApp, type SessionControllerBackends } from "../../src/app.js";
import { createServerManagerClient } from "../../src/clients/server-manager-adapter.js";
import { readSessionControllerConfig } from "../../src/config.js";
import { errorRules } from "../../src/error-rules.js";

export function serviceUnderTest(deps: {
  stores: SessionControllerBackends["stores"];
  coordination: ReturnType<typeof createMemoryCoordination>;
  serverManager: Client<typeof ServerManagerService>;
  logger: Logger;
  clock: () => Date;
}) {
  const { stores, coordination, serverManager, logger, clock } = deps;
  // The defaults of every setting (caps 3 per user and 100 in all, the default policy).
  const config = readSessionControllerConfig(new EnvReader({}));
  const app = createApp(
    config,
    { stores, coordination },
    { serverManager: createServerManagerClient(serverManager) },
    { logger, clock },
  );
  const { sessions, handler } = app;
  // The service's error rules, as its server applies them: domain errors reach clients mapped.
  const errors = new ErrorMapper(errorRules);
  const transport = createRouterTransport(app.routes, {
    router: {
      interceptors: [
        (next) => async (req) => {
          try {
            return await next(req);
          } catch (e) {
            throw errors.map(e).error;
          }
        },
      ],
    },
  });
  const client = createClient(SessionControllerService, transport);
  // `http`: the service's HTTP routes (GET /sessions/{id}.rdp), unauthenticated as the RPCs here.
  return { sessions, handler, client, http: app.http };
}
