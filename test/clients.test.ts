/**
 * The mesh through the real client of each of its users (issue 8, "Tested with the real
 * clients"), against ONE full-process mesh: server-manager, session-controller, one
 * xrdp-integration node on real xrdp and its resource-monitor, on real Redis and FerretDB.
 *
 * - Other Lucid services: the generated clients (@lucid-rdp/gen/node, gRPC) create a session,
 *   watch it turn READY, reach its RDP endpoint, terminate it and watch it turn TERMINATED.
 * - Node services on @grpc/grpc-js: the same, through a grpc-js client built from the same
 *   protobuf-es descriptors, plus a gRPC error with its BadRequest details.
 * - Operators: grpcurl lists, describes and health-checks every service, and creates, gets and
 *   terminates a session with JSON.
 * - Scripts: Connect JSON with plain fetch: POST for every call, GET for a NO_SIDE_EFFECTS read,
 *   Connect errors as JSON, and GET refused for a call with side effects.
 * - Prometheus: every service's /metrics passes `promtool check metrics`.
 *
 * Each client works on a user of its own (a session is reused per user), so the clients run
 * concurrently; the Prometheus check runs after them, once the RPCs left series behind.
 */
import { randomUUID } from "node:crypto";
import {
  type DescMethod,
  type DescService,
  fromBinary,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type CreateSessionRequestSchema,
  type CreateSessionResponse,
  type GetSessionRequestSchema,
  type GetSessionResponse,
  type ListSessionsRequestSchema,
  type ListSessionsResponse,
  ResourceMonitorService,
  ServerManagerService,
  type Session,
  SessionControllerService,
  SessionEventType,
  SessionState,
  SessionStateReason,
  type TerminateSessionRequestSchema,
  type TerminateSessionResponse,
  type WatchSessionsRequestSchema,
  type WatchSessionsResponse,
  XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { contractsSourceInfo } from "@lucid-rdp/gen/source-info";
import { BadRequestSchema } from "@lucid-rdp/runtime";
import {
  type ChildServer,
  createTypedGrpcJsClient,
  follow,
  grpcurl,
  type Mesh,
  meshFixture,
  promtoolCheckMetrics,
  statusDetails,
  toolOrSkip,
} from "@lucid-rdp/testing";
import { probeRdp } from "@lucid-rdp/xrdp-integration";
import { describe, expect, it } from "vitest";

const fixture = meshFixture({ sessionController: true, resourceMonitor: true, xrdpNodes: 1 });

/** A test drives a whole session lifecycle, provisioning included. */
const testTimeout = 180_000;
/** How long a create may wait for READY, and how long a test waits for anything to converge. */
const readyWaitSeconds = 60;
const convergeMs = 60_000;
const sessionService = SessionControllerService.typeName;

// --- the four services -------------------------------------------------------------------------

interface MeshService {
  readonly name: string;
  readonly desc: DescService;
  server(mesh: Mesh): ChildServer;
  /** A cheap read, called through the generated client: afterwards /metrics has its series. */
  readonly read: { readonly method: string; call(mesh: Mesh): Promise<unknown> };
}

const services: readonly MeshService[] = [
  {
    name: "server-manager",
    desc: ServerManagerService,
    server: (m) => one(m.serverManagers),
    read: { method: "ListNodes", call: (m) => m.serverManager().listNodes({}) },
  },
  {
    name: "session-controller",
    desc: SessionControllerService,
    server: (m) => one(m.sessionControllers),
    read: { method: "ListSessions", call: (m) => m.sessionController().listSessions({}) },
  },
  {
    name: "xrdp-integration",
    desc: XrdpIntegrationService,
    server: (m) => one(m.nodes).server,
    read: { method: "GetHostInfo", call: (m) => m.xrdp().getHostInfo({}) },
  },
  {
    name: "resource-monitor",
    desc: ResourceMonitorService,
    server: (m) => one(m.resourceMonitors),
    read: { method: "GetHostHealth", call: (m) => m.resourceMonitor().getHostHealth({}) },
  },
];

function one<T>(list: readonly T[]): T {
  const item = list[0];
  if (item === undefined) throw new Error("the mesh lacks a service this test needs");
  return item;
}

const address = (server: ChildServer) => `127.0.0.1:${server.port}`;

// --- helpers -----------------------------------------------------------------------------------

/**
 * What the lifecycle test needs of a session-controller client: the generated client and the
 * grpc-js one both fit, which is the point.
 */
interface SessionCalls {
  listSessions(
    request: MessageInitShape<typeof ListSessionsRequestSchema>,
  ): Promise<ListSessionsResponse>;
  createSession(
    request: MessageInitShape<typeof CreateSessionRequestSchema>,
  ): Promise<CreateSessionResponse>;
  getSession(
    request: MessageInitShape<typeof GetSessionRequestSchema>,
  ): Promise<GetSessionResponse>;
  terminateSession(
    request: MessageInitShape<typeof TerminateSessionRequestSchema>,
  ): Promise<TerminateSessionResponse>;
  watchSessions(
    request: MessageInitShape<typeof WatchSessionsRequestSchema>,
    options: { signal: AbortSignal; timeoutMs: number },
  ): AsyncIterable<WatchSessionsResponse>;
}

function show(s: Session | undefined): string {
  if (s === undefined) return "(no session)";
  const e = s.connectInfo?.endpoint;
  return `${s.id} ${s.user} ${SessionState[s.state]} ${SessionStateReason[s.stateReason]} ${e?.host}:${e?.port} ${s.stateMessage}`;
}

function showEvent(e: WatchSessionsResponse): string {
  return `${e.eventId} ${SessionEventType[e.type]} ${show(e.session)}`;
}

/** `<ms>-<seq>` event ids in numeric order. */
function eventOrder(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split("-").map(BigInt);
  const [bm = 0n, bs = 0n] = b.split("-").map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

/**
 * Creates a session for `user` (waiting for READY), checks that its endpoint answers RDP, gets
 * it, terminates it, and follows all of it on WatchSessions: CREATED, READY, TERMINATED, in
 * order, each event once.
 */
async function createWatchTerminate(client: SessionCalls, user: string): Promise<void> {
  // The watch resumes from the list's cursor, so it sees the create however late the server sets
  // the stream up.
  const { lastEventId } = await client.listSessions({ user, pageSize: 1 });
  expect(lastEventId, "ListSessions last_event_id").not.toBe("");
  const watch = follow(
    (signal) =>
      client.watchSessions({ user, afterEventId: lastEventId }, { signal, timeoutMs: testTimeout }),
    { show: showEvent, timeoutMs: convergeMs },
  );
  try {
    const { session, reused } = await client.createSession({
      requestId: randomUUID(),
      user,
      waitTimeout: { seconds: BigInt(readyWaitSeconds) },
    });
    expect(session?.state, show(session)).toBe(SessionState.READY);
    expect(session?.user).toBe(user);
    expect(reused).toBe(false);
    const id = session?.id as string;
    const endpoint = session?.connectInfo?.endpoint;
    expect(endpoint?.port, show(session)).toBeGreaterThan(0);
    expect(
      await probeRdp(endpoint?.host ?? "", endpoint?.port ?? 0, { timeoutMs: 10_000 }),
    ).toEqual(expect.objectContaining({ ok: true }));

    const ofThis = (e: WatchSessionsResponse) => e.session?.id === id;
    const created = await watch.until(
      "CREATED",
      (e) => ofThis(e) && e.type === SessionEventType.CREATED,
    );
    const ready = await watch.until(
      "READY",
      (e) => ofThis(e) && e.session?.state === SessionState.READY,
    );

    const got = await client.getSession({ sessionId: id });
    expect(got.session?.id).toBe(id);
    expect(got.session?.connectInfo?.endpoint).toEqual(endpoint);

    const { session: ending } = await client.terminateSession({
      sessionId: id,
      reason: `${user} test ends it`,
    });
    expect([SessionState.TERMINATING, SessionState.TERMINATED], show(ending)).toContain(
      ending?.state,
    );
    const terminated = await watch.until(
      "TERMINATED",
      (e) => ofThis(e) && e.session?.state === SessionState.TERMINATED,
    );
    expect(terminated.session?.stateReason).toBe(SessionStateReason.TERMINATE_REQUESTED);

    const ids = watch.messages.map((e) => e.eventId);
    expect(new Set(ids).size, "each event once").toBe(ids.length);
    expect([...ids].sort(eventOrder), "events in order").toEqual(ids);
    expect(eventOrder(created.eventId, ready.eventId)).toBeLessThan(0);
    expect(eventOrder(ready.eventId, terminated.eventId)).toBeLessThan(0);
  } finally {
    await watch.stop();
  }
}

/** Calls `probe` every 250 ms until it returns a value; throws naming `what` after `timeoutMs`. */
async function pollFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = convergeMs,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The first line of the comment written above `method` (or the service) in proto/. */
function firstCommentLine(service: DescService, method?: DescMethod): string {
  for (const file of contractsSourceInfo()) {
    const s = file.service.findIndex((x) => `${file.package}.${x.name}` === service.typeName);
    if (s < 0) continue;
    const path = method === undefined ? [6, s] : [6, s, 2, service.methods.indexOf(method)];
    const location = file.sourceCodeInfo?.location.find(
      (l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]),
    );
    const line = location?.leadingComments?.split("\n")[0]?.trim();
    if (line) return line;
  }
  throw new Error(`no comment for ${method?.name ?? service.typeName} in the source info`);
}

// --- the clients -------------------------------------------------------------------------------

describe.concurrent("a session through each client", () => {
  it(
    "the generated TS clients over gRPC create, watch and terminate a session",
    async (ctx) => {
      const mesh = fixture.need(ctx);
      const client = createNodeClient(SessionControllerService, {
        baseUrl: one(mesh.sessionControllers).url,
        protocol: "grpc",
        timeoutMs: (readyWaitSeconds + 30) * 1000,
      });
      await createWatchTerminate(client, "gen-client");
    },
    testTimeout,
  );

  it(
    "@grpc/grpc-js, from the same descriptors, creates, gets, watches and terminates a session",
    async (ctx) => {
      const mesh = fixture.need(ctx);
      const client = createTypedGrpcJsClient(
        SessionControllerService,
        address(one(mesh.sessionControllers)),
        { timeoutMs: (readyWaitSeconds + 30) * 1000 },
      );
      try {
        await createWatchTerminate(client, "grpc-js");

        // A bad request: INVALID_ARGUMENT with the field named in google.rpc.BadRequest.
        const err = (await client
          .getSession({ sessionId: "not-a-uuid" })
          .catch((e: unknown) => e)) as grpc.ServiceError;
        expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
        const [badRequest] = statusDetails(err);
        expect(badRequest?.$typeName).toBe("google.rpc.BadRequest");
        expect(badRequest).toMatchObject({ fieldViolations: [{ field: "session_id" }] });
      } finally {
        client.close();
      }
    },
    testTimeout,
  );

  it(
    "grpcurl creates, gets and terminates a session with JSON",
    async (ctx) => {
      const mesh = fixture.need(ctx);
      const bin = toolOrSkip(ctx, "grpcurl");
      const addr = address(one(mesh.sessionControllers));
      const call = async (method: string, json: unknown) => {
        const run = await grpcurl(bin, addr, {
          flags: ["-max-time", String(readyWaitSeconds + 30)],
          json,
          verb: [`${sessionService}/${method}`],
        });
        expect(run.code, `grpcurl ${method}: ${run.stderr}`).toBe(0);
        return JSON.parse(run.stdout);
      };

      const created = await call("CreateSession", {
        request_id: randomUUID(),
        user: "grpcurl",
        wait_timeout: `${readyWaitSeconds}s`,
      });
      expect(created.session).toMatchObject({ user: "grpcurl", state: "SESSION_STATE_READY" });
      expect(created.session.connectInfo.endpoint.port).toBeGreaterThan(0);
      const id: string = created.session.id;

      const got = await call("GetSession", { session_id: id });
      expect(got.session).toMatchObject({ id, state: "SESSION_STATE_READY" });
      expect(got.session.connectInfo).toEqual(created.session.connectInfo);

      const ending = await call("TerminateSession", { session_id: id, reason: "grpcurl test" });
      expect(ending.session.id).toBe(id);
      expect(["SESSION_STATE_TERMINATING", "SESSION_STATE_TERMINATED"]).toContain(
        ending.session.state,
      );
      const ended = await pollFor(`session ${id} TERMINATED through grpcurl`, async () => {
        const { session } = await call("GetSession", { session_id: id });
        return session.state === "SESSION_STATE_TERMINATED" ? session : undefined;
      });
      expect(ended.stateReason).toBe("SESSION_STATE_REASON_TERMINATE_REQUESTED");
    },
    testTimeout,
  );

  it(
    "scripts speak Connect JSON with plain fetch: POST, GET for reads, errors as JSON",
    async (ctx) => {
      const mesh = fixture.need(ctx);
      const base = `${one(mesh.sessionControllers).url}/${sessionService}`;
      /** What a script sees of one call: status, content type and the parsed body. */
      const reply = async (res: Response) => ({
        status: res.status,
        type: res.headers.get("content-type"),
        allow: res.headers.get("allow"),
        body: await res
          .text()
          .then((t) =>
            t === ""
              ? undefined
              : res.headers.get("content-type")?.includes("json")
                ? JSON.parse(t)
                : t,
          ),
      });
      const post = async (method: string, message: unknown) =>
        reply(
          await fetch(`${base}/${method}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(message),
            signal: AbortSignal.timeout((readyWaitSeconds + 30) * 1000),
          }),
        );
      // Written out by hand, as a script would: no client library builds this URL.
      const get = async (method: string, message: unknown) =>
        reply(
          await fetch(
            `${base}/${method}?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`,
            { signal: AbortSignal.timeout(30_000) },
          ),
        );

      const created = await post("CreateSession", {
        requestId: randomUUID(),
        user: "connect-json",
        waitTimeout: `${readyWaitSeconds}s`,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      expect(created.type).toBe("application/json");
      const session = created.body.session;
      expect(session).toMatchObject({
        user: "connect-json",
        state: "SESSION_STATE_READY",
        connectInfo: { endpoint: { host: expect.any(String), port: expect.any(Number) } },
        createTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      const id: string = session.id;

      const posted = await post("GetSession", { sessionId: id });
      expect(posted.status).toBe(200);
      expect(posted.body.session).toMatchObject({ id, state: "SESSION_STATE_READY" });
      const fetched = await get("GetSession", { sessionId: id });
      expect(fetched.status, JSON.stringify(fetched.body)).toBe(200);
      expect(fetched.body.session).toEqual(posted.body.session);

      // Errors are JSON too: the code by name, and google.rpc.BadRequest naming each field.
      const bad = await post("CreateSession", { requestId: "not-a-uuid", user: "" });
      expect(bad.status).toBe(400);
      expect(bad.type).toBe("application/json");
      expect(bad.body).toMatchObject({
        code: "invalid_argument",
        message: expect.any(String),
        details: [{ type: "google.rpc.BadRequest", value: expect.any(String) }],
      });
      const violations = fromBinary(
        BadRequestSchema,
        Buffer.from(bad.body.details[0].value, "base64"),
      ).fieldViolations.map((v) => v.field);
      // An empty user breaks two rules (min_len, pattern): one violation each.
      expect([...new Set(violations)].sort()).toEqual(["request_id", "user"]);
      const missing = await get("GetSession", { sessionId: randomUUID() });
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe("not_found");

      // GET is for NO_SIDE_EFFECTS reads only: a terminate by GET is refused and ends nothing.
      const refused = await get("TerminateSession", { sessionId: id });
      expect(refused.status).toBe(405);
      expect(refused.allow).toBe("POST");
      expect(refused.body).toContain("use POST");
      expect((await get("GetSession", { sessionId: id })).body.session.state).toBe(
        "SESSION_STATE_READY",
      );

      const ending = await post("TerminateSession", { sessionId: id, reason: "script test" });
      expect(ending.status).toBe(200);
      expect(["SESSION_STATE_TERMINATING", "SESSION_STATE_TERMINATED"]).toContain(
        ending.body.session.state,
      );
      const ended = await pollFor(`session ${id} TERMINATED by GET`, async () => {
        const { body } = await get("GetSession", { sessionId: id });
        return body.session.state === "SESSION_STATE_TERMINATED" ? body.session : undefined;
      });
      expect(ended.stateReason).toBe("SESSION_STATE_REASON_TERMINATE_REQUESTED");
    },
    testTimeout,
  );
});

describe.concurrent("grpcurl on every service", () => {
  for (const service of services) {
    it(
      `${service.name}: list, describe with the proto comments, grpc.health.v1 SERVING`,
      async (ctx) => {
        const mesh = fixture.need(ctx);
        const bin = toolOrSkip(ctx, "grpcurl");
        const addr = address(service.server(mesh));
        const run = async (args: Parameters<typeof grpcurl>[2]) => {
          const r = await grpcurl(bin, addr, args);
          expect(r.code, `grpcurl ${args.verb.join(" ")}: ${r.stderr}`).toBe(0);
          return r.stdout;
        };
        const [listed, described, overall, own] = await Promise.all([
          run({ verb: ["list"] }),
          run({ verb: ["describe", service.desc.typeName] }),
          run({ json: { service: "" }, verb: ["grpc.health.v1.Health/Check"] }),
          run({ json: { service: service.desc.typeName }, verb: ["grpc.health.v1.Health/Check"] }),
        ]);

        expect(listed.trim().split("\n").sort()).toEqual(
          [
            service.desc.typeName,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
          ].sort(),
        );

        expect(described).toContain(`// ${firstCommentLine(service.desc)}`);
        for (const m of service.desc.methods) {
          const stream = m.methodKind === "server_streaming" ? "stream " : "";
          expect(described).toContain(
            `rpc ${m.name} ( .${m.input.typeName} ) returns ( ${stream}.${m.output.typeName} )`,
          );
          expect(described).toContain(`// ${firstCommentLine(service.desc, m)}`);
        }

        expect(JSON.parse(overall)).toEqual({ status: "SERVING" });
        expect(JSON.parse(own)).toEqual({ status: "SERVING" });
      },
      testTimeout,
    );
  }
});

// --- Prometheus --------------------------------------------------------------------------------

describe("Prometheus", () => {
  it(
    "every service's /metrics passes promtool check metrics, with series of the RPCs served",
    async (ctx) => {
      const mesh = fixture.need(ctx);
      const bin = toolOrSkip(ctx, "promtool");
      await Promise.all(
        services.map(async (service) => {
          const { method } = service.read;
          await service.read.call(mesh);
          const res = await fetch(`${service.server(mesh).url}/metrics`, {
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          expect(res.status, `${service.name} /metrics`).toBe(200);
          const handled = text
            .split("\n")
            .filter((l) => l.startsWith("grpc_server_handled_total{"));
          expect(
            handled.some((l) => l.includes(`grpc_method="${method}"`)),
            `${service.name} counts ${method}:\n${handled.join("\n")}`,
          ).toBe(true);
          const check = await promtoolCheckMetrics(bin, text);
          const problems = `${check.stdout}${check.stderr}`.trim();
          expect(problems, `${service.name}: promtool check metrics`).toBe("");
          expect(check.code, `${service.name}: ${problems}`).toBe(0);
        }),
      );
    },
    testTimeout,
  );
});
