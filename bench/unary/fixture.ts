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
import { createLogger, EnvReader } from "@lucid-rdp/runtime";
import {
  createApp,
  createServerManagerClient,
  readSessionControllerConfig,
  type SessionControllerApp,
  type SessionControllerHandler,
  systemActor,
} from "@lucid-rdp/session-controller";
import { type SessionStore, sessionControllerSpecs } from "@lucid-rdp/session-controller/store";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";

export interface SessionFixture {
  /** session-controller as createApp builds it (not started: no leader loops). */
  readonly app: SessionControllerApp;
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
  const app = createApp(
    readSessionControllerConfig(new EnvReader({})),
    { stores, coordination },
    { serverManager: createServerManagerClient(serverManager) },
    { logger: createLogger({ service: "session-controller", level: "silent" }), clock },
  );
  const { id } = await app.sessions.create(
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
  return { app, handler: app.handler, store: stores.sessions, sessionId: id };
}
