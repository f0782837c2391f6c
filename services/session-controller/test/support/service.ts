/**
 * session-controller's Sessions and handler over memory stores, called through the generated
 * client on an in-memory transport: the service-level tests' one wiring (issue 16's createApp will
 * replace it and main.ts's alike).
 */

import type { Client } from "@connectrpc/connect";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { type ServerManagerService, SessionControllerService } from "@lucid-rdp/gen";
import { ErrorMapper, type Logger } from "@lucid-rdp/runtime";
import type { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { defaultPolicyBounds, defaultPolicyValues } from "../../src/domain/policy.js";
import { errorRules } from "../../src/error-rules.js";
import { routes } from "../../src/routes.js";
import { SessionControllerHandler } from "../../src/service/session-controller-service.js";
import { Sessions } from "../../src/sessions/sessions.js";

export function serviceUnderTest(deps: {
  stores: ReturnType<typeof createMemoryStores>;
  coordination: ReturnType<typeof createMemoryCoordination>;
  serverManager: Client<typeof ServerManagerService>;
  logger: Logger;
  clock: () => Date;
}) {
  const { stores, coordination, serverManager, logger, clock } = deps;
  const sessions = new Sessions({
    store: stores.sessions,
    audit: stores.auditEvents,
    counters: coordination.counters,
    leases: coordination.leases,
    bus: coordination.bus,
    serverManager,
    logger,
    clock,
    defaults: defaultPolicyValues,
    bounds: defaultPolicyBounds,
    caps: { perUser: 3, total: 100 },
    warnBeforeMs: 60_000,
    provisionTimeoutMs: 120_000,
  });
  const handler = new SessionControllerHandler({
    sessions,
    store: stores.sessions,
    audit: stores.auditEvents,
    idempotency: stores.idempotency,
    idempotencyTtlMs: 86_400_000,
    bus: coordination.bus,
    defaults: defaultPolicyValues,
    warnBeforeMs: 60_000,
    clock,
    shutdownSignal: () => undefined,
  });
  // The service's error rules, as its server applies them: domain errors reach clients mapped.
  const errors = new ErrorMapper(errorRules);
  const transport = createRouterTransport(routes(handler), {
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
  return { sessions, handler, client };
}
