/**
 * CreateSession across duplicates, crashes and a server-manager that does not answer (issue 15,
 * items 1 and 2), through the service's client on createRouterTransport with memory stores and a
 * fake server-manager. Like the real one, the fake makes one server per CreateServer request id;
 * it can refuse (UNAVAILABLE), lose its answer after making the server, or hold its answer. A
 * replica that crashed is a Sessions whose CreateServer never answers; the replica a client retries
 * on is a second Sessions over the same stores.
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  CreateServerResponseSchema,
  DeleteServerResponseSchema,
  EndpointSchema,
  GetServerResponseSchema,
  ListServersResponseSchema,
  ServerManagerService,
  ServerSchema,
  ServerState,
  SessionState,
} from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { createServerManagerClient } from "../src/clients/server-manager-adapter.js";
import { ServerFollower } from "../src/sessions/server-follower.js";
import { sessionIdFor } from "../src/sessions/session-ids.js";
import { sessionControllerSpecs } from "../src/store/specs.js";
import { serviceUnderTest } from "./support/service.js";

type Mode = "ok" | "unavailable" | "lose-answer" | "hold";

function fakeServerManager() {
  const servers = new Map<string, { id: string; sessionId: string; state: ServerState }>();
  const byRequest = new Map<string, string>();
  const calls = { createServer: 0, deleted: [] as string[] };
  const state = { mode: "ok" as Mode };
  const proto = (s: { id: string; sessionId: string; state: ServerState }) =>
    create(ServerSchema, {
      ...s,
      nodeId: "node-1",
      endpoint: create(EndpointSchema, { host: "10.0.0.5", port: 3400 }),
    });
  const client = createClient(
    ServerManagerService,
    createRouterTransport((router) =>
      router.service(ServerManagerService, {
        createServer: async (req, ctx) => {
          calls.createServer++;
          if (state.mode === "unavailable") {
            throw new ConnectError("server-manager is down", Code.Unavailable);
          }
          if (state.mode === "hold") {
            await new Promise((_, reject) =>
              ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
            );
          }
          let id = byRequest.get(req.requestId);
          if (id === undefined) {
            id = randomUUID();
            byRequest.set(req.requestId, id);
            servers.set(id, { id, sessionId: req.sessionId, state: ServerState.READY });
          }
          if (state.mode === "lose-answer") {
            throw new ConnectError("stream reset by peer", Code.Canceled);
          }
          return create(CreateServerResponseSchema, { server: proto(servers.get(id) as never) });
        },
        getServer: (req) => {
          const s = servers.get(req.serverId);
          if (s === undefined) throw new ConnectError("no such server", Code.NotFound);
          return create(GetServerResponseSchema, { server: proto(s) });
        },
        listServers: (req) =>
          create(ListServersResponseSchema, {
            servers: [...servers.values()]
              .filter((s) => req.states.length === 0 || req.states.includes(s.state))
              .map(proto),
            nextPageToken: "",
            lastEventId: "0-0",
          }),
        deleteServer: (req) => {
          const s = servers.get(req.serverId);
          if (s === undefined) throw new ConnectError("no such server", Code.NotFound);
          s.state = ServerState.STOPPED;
          calls.deleted.push(s.id);
          return create(DeleteServerResponseSchema, { server: proto(s) });
        },
      }),
    ),
  );
  return { client, servers, calls, state };
}

function setup() {
  let now = Date.parse("2026-12-06T06:00:00Z");
  const clock = () => new Date(now);
  const stores = createMemoryStores(sessionControllerSpecs, { now: clock });
  const coordination = createMemoryCoordination();
  const logger = createLogger({ service: "test", level: "silent" });
  const sm = fakeServerManager();
  const replica = () =>
    serviceUnderTest({ stores, coordination, serverManager: sm.client, logger, clock });
  return {
    stores,
    sm,
    replica,
    logger,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const request = (requestId: string, user = "alice") => ({
  requestId,
  user,
  waitTimeout: { seconds: 30n, nanos: 0 },
});

/** A ServerFollower of one replica's sessions, over the test's stores and fake server-manager. */
function followerFor(
  t: ReturnType<typeof setup>,
  sessions: ConstructorParameters<typeof ServerFollower>[0]["sessions"],
): ServerFollower {
  return new ServerFollower({
    store: t.stores.sessions,
    sessions,
    serverManager: createServerManagerClient(t.sm.client),
    logger: t.logger,
  });
}

describe("CreateSession is idempotent by request_id", () => {
  it("50 concurrent calls with one request_id over two replicas: one session, one server, every answer names it", async () => {
    const t = setup();
    const [a, b] = [t.replica(), t.replica()];
    const requestId = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 ? a : b).client.createSession(request(requestId)),
      ),
    );
    const ids = new Set(answers.map((r) => r.session?.id));
    expect(ids).toEqual(new Set([sessionIdFor(requestId)]));
    expect(answers.every((r) => r.session?.state === SessionState.READY)).toBe(true);
    expect(answers.some((r) => r.reused)).toBe(false);
    expect(await t.stores.sessions.count({ requestId })).toBe(1);
    expect(t.sm.servers.size).toBe(1);
    // The caps were taken once: two more sessions of alice fit her cap of 3, a third does not.
    await a.client.createSession({ ...request(randomUUID()), policy: { reuse: 3 } });
    await a.client.createSession({ ...request(randomUUID()), policy: { reuse: 3 } });
    await expect(
      a.client.createSession({ ...request(randomUUID()), policy: { reuse: 3 } }),
    ).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it("refuses the request_id of a session with other parameters (ALREADY_EXISTS, REQUEST_ID_REUSED)", async () => {
    const t = setup();
    const { client } = t.replica();
    const requestId = randomUUID();
    await client.createSession(request(requestId));
    const err = await client
      .createSession({ ...request(requestId), labels: { team: "red" } })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.AlreadyExists);
    expect((err as ConnectError).rawMessage).toContain(requestId);
    expect(await t.stores.sessions.count({})).toBe(1);
  });

  it("a retry on another replica resumes a session whose replica died before it got a server", async () => {
    const t = setup();
    t.sm.state.mode = "hold";
    const dying = t.replica();
    const requestId = randomUUID();
    const first = dying.client.createSession(request(requestId), { timeoutMs: 200 });
    await expect(first).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    const stored = await t.stores.sessions.get(sessionIdFor(requestId));
    expect(stored.state).toBe("PROVISIONING");

    t.sm.state.mode = "ok";
    const retry = await t.replica().client.createSession(request(requestId));
    expect(retry.session?.id).toBe(stored.id);
    expect(retry.session?.state).toBe(SessionState.READY);
    expect(await t.stores.sessions.count({})).toBe(1);
    expect(t.sm.servers.size).toBe(1);
  });
});

describe("CreateSession while server-manager does not answer", () => {
  it("answers UNAVAILABLE, keeps the session PROVISIONING with the reason, and a retry with the same request_id gets it READY", async () => {
    const t = setup();
    const { client } = t.replica();
    t.sm.state.mode = "unavailable";
    const requestId = randomUUID();
    const err = await client
      .createSession(request(requestId))
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Unavailable });
    expect((err as ConnectError).rawMessage).toContain("same request_id");
    const waiting = await t.stores.sessions.get(sessionIdFor(requestId));
    expect(waiting.state).toBe("PROVISIONING");
    expect(waiting.stateMessage).toContain("server-manager did not answer (Unavailable)");

    t.sm.state.mode = "ok";
    const res = await client.createSession(request(requestId));
    expect(res.session).toMatchObject({ id: waiting.id, state: SessionState.READY });
  });

  it("fails a session whose provisioning outlived its timeout; the server made after all is deleted as an orphan", async () => {
    const t = setup();
    const { client, sessions } = t.replica();
    t.sm.state.mode = "lose-answer";
    const requestId = randomUUID();
    await expect(client.createSession(request(requestId))).rejects.toMatchObject({
      code: Code.Unavailable,
    });
    const [server] = [...t.sm.servers.values()];
    expect(server?.sessionId).toBe(sessionIdFor(requestId));

    t.advance(121_000);
    await sessions.repairTick();
    const failed = await t.stores.sessions.get(sessionIdFor(requestId));
    expect(failed.state).toBe("FAILED");
    expect(failed.stateReason).toBe("PROVISIONING_FAILED");
    expect(failed.stateMessage).toContain("provisioning timed out");

    const follower = followerFor(t, sessions);
    await follower.reconcile();
    expect(t.sm.calls.deleted).toEqual([server?.id]);
    // Idempotent: the next round has nothing to do.
    await follower.reconcile();
    expect(t.sm.calls.deleted).toHaveLength(1);
  });

  it("deletes a live server whose session does not exist or stands on another server, and no other", async () => {
    const t = setup();
    const { client, sessions } = t.replica();
    const res = await client.createSession(request(randomUUID()));
    const mine = res.session?.serverId as string;
    const ghost = randomUUID();
    t.sm.servers.set(ghost, { id: ghost, sessionId: randomUUID(), state: ServerState.READY });
    const second = randomUUID();
    t.sm.servers.set(second, {
      id: second,
      sessionId: res.session?.id as string,
      state: ServerState.READY,
    });
    const direct = randomUUID();
    t.sm.servers.set(direct, { id: direct, sessionId: "", state: ServerState.READY });
    const follower = followerFor(t, sessions);
    await follower.reconcile();
    expect(new Set(t.sm.calls.deleted)).toEqual(new Set([ghost, second]));
    expect(t.sm.servers.get(mine)?.state).toBe(ServerState.READY);
    expect(t.sm.servers.get(direct)?.state).toBe(ServerState.READY);
  });
});
