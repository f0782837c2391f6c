/**
 * What both unary-RPC servers serve: session-controller's real SessionControllerHandler on the
 * in-memory stores, seeded with one READY session made by the real Sessions.create (a fake
 * server-manager behind a router transport hands out the server), so that GetSession returns what
 * it returns in production: a session with its endpoint, policy and deadlines.
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import {
  CreateServerResponseSchema,
  EndpointSchema,
  ServerManagerService,
  ServerSchema,
  ServerState,
} from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import { type SessionStore, sessionControllerSpecs } from "@lucid-rdp/session-controller/store";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import {
  defaultPolicyBounds,
  defaultPolicyValues,
} from "../../services/session-controller/src/domain/policy.js";
import { SessionControllerHandler } from "../../services/session-controller/src/service/session-controller-service.js";
import { Sessions, systemActor } from "../../services/session-controller/src/sessions/sessions.js";

export interface SessionFixture {
  readonly handler: SessionControllerHandler;
  readonly store: SessionStore;
  /** The id of the seeded READY session. */
  readonly sessionId: string;
}

export async function createSessionFixture(): Promise<SessionFixture> {
  const clock = () => new Date();
  const stores = createMemoryStores(sessionControllerSpecs, { now: clock });
  const coordination = createMemoryCoordination();
  const serverManager = createClient(
    ServerManagerService,
    createRouterTransport((router) =>
      router.service(ServerManagerService, {
        createServer: (req) =>
          create(CreateServerResponseSchema, {
            server: create(ServerSchema, {
              id: randomUUID(),
              nodeId: "node-1",
              owner: req.owner,
              sessionId: req.sessionId,
              state: ServerState.READY,
              endpoint: create(EndpointSchema, { host: "10.0.0.5", port: 3400 }),
            }),
          }),
      }),
    ),
  );
  const sessions = new Sessions({
    store: stores.sessions,
    audit: stores.auditEvents,
    counters: coordination.counters,
    leases: coordination.leases,
    bus: coordination.bus,
    serverManager,
    logger: createLogger({ service: "session-controller", level: "silent" }),
    clock,
    defaults: defaultPolicyValues,
    bounds: defaultPolicyBounds,
    caps: { perUser: 3, total: 100 },
    warnBeforeMs: 60_000,
    provisionTimeoutMs: 120_000,
  });
  const { id } = await sessions.create(
    {
      requestId: randomUUID(),
      user: "alice",
      display: { width: 1920, height: 1080, colorDepth: 32, monitors: 1 },
      client: { name: "mstsc", version: "10.0" },
      policy: {},
      labels: { team: "bench" },
    },
    systemActor,
  );
  for (let i = 0; ; i++) {
    const s = await stores.sessions.get(id);
    if (s.state === "READY") break;
    if (i > 1000) throw new Error(`seeded session stuck in ${s.state}`);
    await new Promise((r) => setImmediate(r));
  }
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
  return { handler, store: stores.sessions, sessionId: id };
}
