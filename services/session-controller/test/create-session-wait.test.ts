/**
 * CreateSession's wait for READY, through the generated client on createRouterTransport with
 * memory stores and bus, and a fake server-manager whose CreateServer answers when the test says:
 * the wait reads the session again on events about it (and no others), ends at READY or FAILED,
 * at its deadline, on cancellation, and falls back to a re-read every second when events are lost.
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  CreateServerResponseSchema,
  DeleteServerResponseSchema,
  EndpointSchema,
  ServerManagerService,
  ServerSchema,
  ServerState,
  SessionControllerService,
  SessionState,
} from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import {
  BusWakeups,
  createMemoryCoordination,
  createMemoryStores,
  MemoryEventBus,
} from "@lucid-rdp/storage";
import { countingCalls } from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";
import { createServerManagerClient } from "../src/clients/server-manager-adapter.js";
import { defaultPolicyBounds, defaultPolicyValues } from "../src/domain/policy.js";
import { routes } from "../src/routes.js";
import { SessionControllerHandler } from "../src/service/session-controller-service.js";
import { SessionReader } from "../src/sessions/session-reader.js";
import { Sessions } from "../src/sessions/sessions.js";
import { AuditReader } from "../src/store/audit-reader.js";
import { RequestLedger } from "../src/store/request-ledger.js";
import { sessionControllerSpecs } from "../src/store/specs.js";
import type { SessionStore } from "../src/store/stores.js";

/** Lets promise callbacks and bus deliveries run. */
const settle = () => new Promise((r) => setImmediate(r));

function setup(opts: { silentWakeups?: boolean } = {}) {
  const stores = createMemoryStores(sessionControllerSpecs);
  const coordination = createMemoryCoordination();
  const logger = createLogger({ service: "test", level: "silent" });

  // CreateServer answers when the test calls `answer` (READY) or `fail`.
  let requested!: () => void;
  const serverRequested = new Promise<void>((r) => {
    requested = r;
  });
  let answer!: (outcome: "ready" | "failed") => void;
  const outcome = new Promise<"ready" | "failed">((r) => {
    answer = r;
  });
  const serverManager = createClient(
    ServerManagerService,
    createRouterTransport((router) =>
      router.service(ServerManagerService, {
        createServer: async (req) => {
          requested();
          if ((await outcome) === "failed") {
            throw new ConnectError("no node has room", Code.ResourceExhausted);
          }
          return create(CreateServerResponseSchema, {
            server: create(ServerSchema, {
              id: randomUUID(),
              nodeId: "node-1",
              owner: req.owner,
              sessionId: req.sessionId,
              state: ServerState.READY,
              endpoint: create(EndpointSchema, { host: "10.0.0.5", port: 3400 }),
            }),
          });
        },
        deleteServer: (req) =>
          create(DeleteServerResponseSchema, {
            server: create(ServerSchema, { id: req.serverId, state: ServerState.STOPPED }),
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
    serverManager: createServerManagerClient(serverManager),
    logger,
    clock: () => new Date(),
    defaults: defaultPolicyValues,
    bounds: defaultPolicyBounds,
    caps: { perUser: 3, total: 100 },
    warnBeforeMs: 60_000,
    provisionTimeoutMs: 120_000,
  });

  // The handler's reads of a session: only CreateSession's own reads go through this store.
  const { store, calls: reads } = countingCalls(stores.sessions as SessionStore, "get");
  const handler = new SessionControllerHandler({
    sessions,
    records: new SessionReader(store),
    auditLog: new AuditReader(stores.auditEvents),
    requests: new RequestLedger(stores.idempotency, 86_400_000),
    bus: coordination.bus,
    defaults: defaultPolicyValues,
    warnBeforeMs: 60_000,
    clock: () => new Date(),
    shutdownSignal: () => undefined,
    // Wake-ups on a bus nobody publishes to: as if every event were lost.
    ...(opts.silentWakeups
      ? { wakeups: new BusWakeups({ bus: new MemoryEventBus(), family: "session" }) }
      : {}),
  });
  const client = createClient(SessionControllerService, createRouterTransport(routes(handler)));
  /** Resolves once CreateSession has read the session `n` times (it is waiting from then on). */
  const readsReach = async (n: number) => {
    for (let i = 0; i < 1_000 && reads.n < n; i++) await settle();
    expect(reads.n).toBeGreaterThanOrEqual(n);
  };
  return { client, bus: coordination.bus, reads, serverRequested, answer, readsReach };
}

const createRequest = (waitSeconds: bigint, nanos = 0) => ({
  requestId: randomUUID(),
  user: "alice",
  waitTimeout: { seconds: waitSeconds, nanos },
});

describe("SessionControllerHandler", () => {
  describe("createSession() with wait_timeout", () => {
    it("answers READY after the session's READY event, reading it again only on its own events", async () => {
      const t = setup();
      const call = t.client.createSession(createRequest(30n));
      call.catch(() => undefined); // handled at once; awaited below
      await t.serverRequested;
      await t.readsReach(1);
      await settle();
      const before = t.reads.n;
      // Other sessions' events do not wake this wait.
      for (let i = 0; i < 20; i++) {
        await t.bus.publish({ type: "session.state_changed", subject: randomUUID(), data: {} });
      }
      await settle();
      expect(t.reads.n).toBe(before);

      t.answer("ready");
      const res = await call;
      expect(res.session?.state).toBe(SessionState.READY);
      expect(res.session?.connectInfo?.endpoint).toMatchObject({ host: "10.0.0.5", port: 3400 });
      // One read, after the READY event.
      expect(t.reads.n).toBe(before + 1);
    });

    it("answers from the session its own provisioning stored READY, without reading it again", async () => {
      // No events: only the call's own provisioning attempt ends the wait.
      const t = setup({ silentWakeups: true });
      const call = t.client.createSession(createRequest(30n));
      call.catch(() => undefined); // handled at once; awaited below
      await t.serverRequested;
      await t.readsReach(1);
      const before = t.reads.n;
      t.answer("ready");
      const res = await call;
      expect(res.session?.state).toBe(SessionState.READY);
      expect(res.session?.connectInfo?.endpoint).toMatchObject({ host: "10.0.0.5", port: 3400 });
      expect(t.reads.n).toBe(before);
    });

    it("answers FAILED when provisioning fails", async () => {
      const t = setup();
      const call = t.client.createSession(createRequest(30n));
      call.catch(() => undefined); // handled at once; awaited below
      await t.serverRequested;
      t.answer("failed");
      const res = await call;
      expect(res.session?.state).toBe(SessionState.FAILED);
      expect(res.session?.stateMessage).toMatch(/no node has room/);
    });

    it("answers at its deadline with the session still PROVISIONING, not at the next re-read", async () => {
      const t = setup();
      const t0 = Date.now();
      const res = await t.client.createSession(createRequest(0n, 200_000_000));
      const elapsed = Date.now() - t0;
      expect(res.session?.state).toBe(SessionState.PROVISIONING);
      expect(elapsed).toBeGreaterThanOrEqual(190);
      // That it ends at the deadline and not at the next re-read (WAKEUP_RECHECK_MS) is proven
      // without wall time by BusWakeups.waitUntil's unit test.
      t.answer("ready");
    });

    it("ends when the call is cancelled", async () => {
      const t = setup();
      const abort = new AbortController();
      const call = t.client.createSession(createRequest(30n), { signal: abort.signal });
      const settled = call.then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      await t.serverRequested;
      abort.abort();
      expect((await settled)?.code).toBe(Code.Canceled);
      t.answer("ready");
    });

    it("still answers READY when no event arrives, from its re-read every second", async () => {
      const t = setup({ silentWakeups: true });
      const call = t.client.createSession(createRequest(30n));
      call.catch(() => undefined); // handled at once; awaited below
      await t.serverRequested;
      // Answered only once the wait has read it PROVISIONING, so the answer needs a re-read.
      await t.readsReach(1);
      t.answer("ready");
      const res = await call;
      expect(res.session?.state).toBe(SessionState.READY);
    });
  });
});
