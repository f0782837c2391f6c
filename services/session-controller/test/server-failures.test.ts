/**
 * Sessions learn that their server ended (issue 15, item 3): ServerFollower, through the service's
 * client on createRouterTransport, with memory stores and bus, a controllable clock, and a fake
 * server-manager whose servers the test moves. Its WatchServers follows its own memory bus, so it
 * replays after a cursor as server-manager does; a change made "quietly" publishes no event (a
 * missed event, for the reconcile path).
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { durationMs as durationOf } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  CreateServerResponseSchema,
  DeleteServerResponseSchema,
  EndpointSchema,
  GetServerResponseSchema,
  ListServersResponseSchema,
  ResourceType,
  ServerEventType,
  ServerManagerService,
  ServerSchema,
  ServerState,
  ServerStateReason,
  SessionState,
  SessionStateReason,
  WatchServersResponseSchema,
} from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import {
  type BusEvent,
  createMemoryCoordination,
  createMemoryStores,
  MemoryEventBus,
} from "@lucid-rdp/storage";
import { describe, expect, it, vi } from "vitest";
import { createServerManagerClient } from "../src/clients/server-manager-adapter.js";
import { systemActor } from "../src/domain/actor.js";
import { capKeys } from "../src/domain/caps.js";
import { ServerFollower } from "../src/sessions/server-follower.js";
import type { SessionRecord } from "../src/store/records.js";
import { sessionControllerSpecs } from "../src/store/specs.js";
import { serviceUnderTest } from "./support/service.js";

const settle = () => new Promise((r) => setImmediate(r));
/** Polls (real time, short) until `fn` passes: bus deliveries and stream reconnects are async. */
const eventually = (fn: () => Promise<void>) => vi.waitFor(fn, { timeout: 3_000, interval: 5 });

interface FakeServer {
  id: string;
  sessionId: string;
  owner: string;
  state: ServerState;
  stateReason: ServerStateReason;
  stateMessage: string;
}

function setup() {
  let now = Date.parse("2026-12-06T05:00:00Z");
  const clock = () => new Date(now);
  const stores = createMemoryStores(sessionControllerSpecs, { now: clock });
  const coordination = createMemoryCoordination();
  const logger = createLogger({ service: "test", level: "silent" });

  // The fake server-manager: its servers, its own event stream, and counts of what was asked.
  const servers = new Map<string, FakeServer>();
  const serverBus = new MemoryEventBus();
  const calls = { listServers: 0, getServer: 0, watchServers: 0 };
  /** Watch calls still to refuse with UNAVAILABLE; GetServer refuses likewise while true. */
  const refuse = { watches: 0, outOfRange: 0, getServer: false, deleteServer: new Set<string>() };
  /** The open WatchServers streams: aborting one breaks it (UNAVAILABLE on the client). */
  const streams = new Set<AbortController>();
  const proto = (s: FakeServer) =>
    create(ServerSchema, {
      ...s,
      nodeId: "node-1",
      endpoint: create(EndpointSchema, { host: "10.0.0.5", port: 3400 }),
    });
  const publish = (s: FakeServer, previousState: ServerState, type = "server.state_changed") =>
    serverBus.publish({ type, subject: s.id, data: { server: { ...s }, previousState } });

  /** Moves a server to `state`, with (default) or without its event. */
  const move = async (
    id: string,
    state: ServerState,
    opts: { reason?: ServerStateReason; message?: string; quietly?: boolean } = {},
  ) => {
    const s = servers.get(id);
    if (s === undefined) throw new Error(`no server ${id}`);
    const previous = s.state;
    Object.assign(s, {
      state,
      stateReason: opts.reason ?? ServerStateReason.UNSPECIFIED,
      stateMessage: opts.message ?? "",
    });
    if (!opts.quietly) await publish(s, previous);
  };

  const serverManager = createClient(
    ServerManagerService,
    createRouterTransport((router) =>
      router.service(ServerManagerService, {
        createServer: async (req) => {
          const s: FakeServer = {
            id: randomUUID(),
            sessionId: req.sessionId,
            owner: req.owner,
            state: ServerState.READY,
            stateReason: ServerStateReason.UNSPECIFIED,
            stateMessage: "",
          };
          servers.set(s.id, s);
          await publish(s, ServerState.UNSPECIFIED, "server.created");
          return create(CreateServerResponseSchema, { server: proto(s) });
        },
        getServer: (req) => {
          calls.getServer++;
          if (refuse.getServer) throw new ConnectError("server-manager is down", Code.Unavailable);
          const s = servers.get(req.serverId);
          if (s === undefined) throw new ConnectError("no such server", Code.NotFound);
          return create(GetServerResponseSchema, { server: proto(s) });
        },
        listServers: async (req) => {
          calls.listServers++;
          const lastEventId = await serverBus.lastEventId("server");
          const all = [...servers.values()].filter(
            (s) => req.states.length === 0 || req.states.includes(s.state),
          );
          // Pages of `page_size` (default 50); the token is the offset.
          const size = req.pageSize || 50;
          const from = Number(req.pageToken || "0");
          return create(ListServersResponseSchema, {
            servers: all.slice(from, from + size).map(proto),
            nextPageToken: from + size < all.length ? String(from + size) : "",
            lastEventId,
          });
        },
        deleteServer: async (req) => {
          if (refuse.deleteServer.has(req.serverId)) {
            throw new ConnectError("node unreachable", Code.Unavailable);
          }
          const s = servers.get(req.serverId);
          if (s === undefined) throw new ConnectError("no such server", Code.NotFound);
          if (s.state !== ServerState.FAILED && s.state !== ServerState.STOPPED) {
            await move(s.id, ServerState.STOPPED, { reason: ServerStateReason.DELETE_REQUESTED });
          }
          return create(DeleteServerResponseSchema, { server: proto(s) });
        },
        async *watchServers(req, ctx) {
          calls.watchServers++;
          if (refuse.watches > 0) {
            refuse.watches--;
            throw new ConnectError("server-manager is restarting", Code.Unavailable);
          }
          if (req.afterEventId && refuse.outOfRange > 0) {
            refuse.outOfRange--;
            throw new ConnectError("cursor older than the retained events", Code.OutOfRange);
          }
          const stream = new AbortController();
          streams.add(stream);
          try {
            const events = serverBus.subscribe("server", {
              after: req.afterEventId || undefined,
              signal: AbortSignal.any([ctx.signal, stream.signal]),
            }) as AsyncIterable<BusEvent<{ server: FakeServer; previousState: ServerState }>>;
            for await (const e of events) {
              yield create(WatchServersResponseSchema, {
                eventId: e.id,
                type:
                  e.type === "server.created"
                    ? ServerEventType.CREATED
                    : ServerEventType.STATE_CHANGED,
                server: proto(e.data.server),
                previousState: e.data.previousState,
              });
            }
            if (stream.signal.aborted) {
              throw new ConnectError("server-manager went away", Code.Unavailable);
            }
          } finally {
            streams.delete(stream);
          }
        },
      }),
    ),
  );

  const { sessions, client } = serviceUnderTest({
    stores,
    coordination,
    serverManager,
    logger: logger,
    clock,
  });
  const follower = new ServerFollower({
    store: stores.sessions,
    sessions,
    serverManager: createServerManagerClient(serverManager),
    logger,
    retryMinMs: 5,
    retryMaxMs: 20,
  });

  const until = async (id: string, state: SessionRecord["state"]) => {
    for (let i = 0; i < 200; i++) {
      const s = await stores.sessions.get(id);
      if (s.state === state) return s;
      await settle();
    }
    return stores.sessions.get(id);
  };

  /** A new READY session of `user` (never a handed-back one) on a new READY server. */
  const readySession = async (user: string) => {
    const { id } = await sessions.create(
      {
        requestId: randomUUID(),
        user,
        display: { width: 1920, height: 1080, colorDepth: 32, monitors: 1 },
        policy: { reuse: "NEVER" },
        labels: {},
      },
      systemActor,
    );
    const s = await until(id, "READY");
    expect(s.state).toBe("READY");
    return s as SessionRecord & { serverId: string };
  };

  /** Runs `follow` until the test ends it; resolves once its stream is open. */
  const following = async () => {
    const stop = new AbortController();
    const done = follower.follow(stop.signal);
    await eventually(async () => expect(streams.size).toBe(1));
    return {
      stop: async () => {
        stop.abort();
        await done;
      },
    };
  };

  /** The session's state changes on the session bus, oldest first. */
  const sessionEvents = async (id: string) =>
    (await coordination.bus.read("session", { count: 1000 }))
      .filter((e) => e.subject === id && e.type === "session.state_changed")
      .map((e) => {
        const d = e.data as { session: SessionRecord; previousState?: string };
        return { from: d.previousState, to: d.session.state, reason: d.session.stateReason };
      });

  const audits = async (id: string, action: string) =>
    (
      await client.listAuditEvents({
        resourceType: ResourceType.SESSION,
        resourceId: id,
        action,
      })
    ).auditEvents;

  return {
    client,
    sessions,
    follower,
    stores,
    counters: coordination.counters,
    servers,
    calls,
    refuse,
    streams,
    move,
    until,
    readySession,
    following,
    sessionEvents,
    audits,
    clock,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("ServerFollower", () => {
  describe("follow()", () => {
    it("fails a READY session with SERVER_FAILED when its server's FAILED event arrives: event, audit, caps", async () => {
      const t = setup();
      const s = await t.readySession("alice");
      const w = await t.following();
      t.advance(30_000);
      await t.move(s.serverId, ServerState.FAILED, {
        reason: ServerStateReason.INSTANCE_FAILED,
        message: "xrdp exited 5 times within 60 s (crash loop)",
      });
      await eventually(async () =>
        expect((await t.stores.sessions.get(s.id)).state).toBe("FAILED"),
      );
      await w.stop();

      const { session } = await t.client.getSession({ sessionId: s.id });
      expect(session?.state).toBe(SessionState.FAILED);
      expect(session?.stateReason).toBe(SessionStateReason.SERVER_FAILED);
      expect(session?.stateMessage).toContain("crash loop");
      const ended = await t.stores.sessions.get(s.id);
      expect(ended.endTime).toEqual(t.clock());
      expect(await t.sessionEvents(s.id)).toContainEqual({
        from: "READY",
        to: "FAILED",
        reason: "SERVER_FAILED",
      });
      const audit = await t.audits(s.id, "session.failed");
      expect(audit).toHaveLength(1);
      expect(audit[0]?.details).toMatchObject({
        reason: "SERVER_FAILED",
        server: s.serverId,
        previous_state: "READY",
      });
      // The caps are given back.
      expect(await t.counters.get(capKeys("alice").user)).toBe(0);
    });

    it("closes the connected time of an ACTIVE session whose server fails", async () => {
      const t = setup();
      const s = await t.readySession("bob");
      await t.sessions.connectionChanged(s.id, "CONNECTED", 1, t.clock());
      const w = await t.following();
      t.advance(7_300);
      await t.move(s.serverId, ServerState.FAILED, { reason: ServerStateReason.INSTANCE_FAILED });
      await eventually(async () =>
        expect((await t.stores.sessions.get(s.id)).state).toBe("FAILED"),
      );
      await w.stop();
      const ended = await t.stores.sessions.get(s.id);
      expect(ended).toMatchObject({ stateReason: "SERVER_FAILED", totalConnectedMs: 7_300 });
      expect(ended.disconnectedTime).toEqual(t.clock());
      t.advance(60_000); // the connected time of an ended session no longer grows
      const { metrics } = await t.client.getSessionMetrics({ sessionId: s.id });
      expect(metrics?.connectedDuration && durationOf(metrics.connectedDuration)).toBe(7_300);
      expect(await t.sessionEvents(s.id)).toContainEqual({
        from: "ACTIVE",
        to: "FAILED",
        reason: "SERVER_FAILED",
      });
    });

    it("ends a DISCONNECTED session with SERVER_DELETED when someone else stops its server", async () => {
      const t = setup();
      const s = await t.readySession("carol");
      await t.sessions.connectionChanged(s.id, "CONNECTED", 1, t.clock());
      await t.sessions.connectionChanged(s.id, "DISCONNECTED", 0, t.clock());
      const w = await t.following();
      await t.move(s.serverId, ServerState.STOPPING, {
        reason: ServerStateReason.DELETE_REQUESTED,
      });
      await t.move(s.serverId, ServerState.STOPPED, { reason: ServerStateReason.DELETE_REQUESTED });
      await eventually(async () =>
        expect((await t.stores.sessions.get(s.id)).state).toBe("FAILED"),
      );
      await w.stop();
      expect((await t.client.getSession({ sessionId: s.id })).session?.stateReason).toBe(
        SessionStateReason.SERVER_DELETED,
      );
    });

    it("leaves the session READY while its server is PROVISIONING, READY with its instance RESTARTING, DRAINING or STOPPING", async () => {
      const t = setup();
      const s = await t.readySession("dora");
      const marker = await t.readySession("dora");
      const w = await t.following();
      // An xrdp crash: the instance restarts, the server stays READY (an event all the same).
      await t.move(s.serverId, ServerState.READY);
      await t.move(s.serverId, ServerState.PROVISIONING);
      await t.move(s.serverId, ServerState.READY);
      await t.move(s.serverId, ServerState.DRAINING, { reason: ServerStateReason.UNSPECIFIED });
      await t.move(s.serverId, ServerState.STOPPING, {
        reason: ServerStateReason.DELETE_REQUESTED,
      });
      // Events arrive in order: once the marker's failure is applied, the others were seen.
      await t.move(marker.serverId, ServerState.FAILED);
      await eventually(async () =>
        expect((await t.stores.sessions.get(marker.id)).state).toBe("FAILED"),
      );
      await w.stop();
      expect(await t.stores.sessions.get(s.id)).toMatchObject({
        state: "READY",
        version: s.version,
      });
      expect(await t.audits(s.id, "session.failed")).toHaveLength(0);
    });

    it("resumes after a broken stream from the last event it saw, without listing again", async () => {
      const t = setup();
      const s = await t.readySession("erin");
      const w = await t.following();
      // The cursor and the first sweep's list of live servers, once each.
      const listed = t.calls.listServers;
      expect(listed).toBe(2);
      // server-manager goes away, and refuses two reconnects; the server fails meanwhile.
      t.refuse.watches = 2;
      for (const stream of t.streams) stream.abort();
      await t.move(s.serverId, ServerState.FAILED, { reason: ServerStateReason.INSTANCE_VANISHED });
      await eventually(async () =>
        expect((await t.stores.sessions.get(s.id)).state).toBe("FAILED"),
      );
      expect(t.calls.watchServers).toBeGreaterThanOrEqual(4);
      expect(t.calls.listServers).toBe(listed);
      await w.stop();
      expect((await t.stores.sessions.get(s.id)).stateReason).toBe("SERVER_FAILED");
    });

    it("sweeps first: a server that failed before the stream opened (a new leader) ends its session", async () => {
      const t = setup();
      const s = await t.readySession("kate");
      await t.move(s.serverId, ServerState.FAILED, { quietly: true });
      const w = await t.following();
      expect((await t.stores.sessions.get(s.id)).stateReason).toBe("SERVER_FAILED");
      await w.stop();
    });

    it("lists and sweeps again when its cursor is out of range, then follows from the new cursor", async () => {
      const t = setup();
      const s = await t.readySession("liam");
      const w = await t.following();
      const listed = t.calls.listServers;
      t.refuse.outOfRange = 1;
      for (const stream of t.streams) stream.abort();
      // Missed, and older than the new cursor: the sweep after the new list finds it.
      await t.move(s.serverId, ServerState.FAILED, { quietly: true });
      await eventually(async () =>
        expect((await t.stores.sessions.get(s.id)).state).toBe("FAILED"),
      );
      expect(t.calls.listServers).toBeGreaterThan(listed);
      // And the new stream delivers what comes next.
      const next = await t.readySession("liam");
      await t.move(next.serverId, ServerState.FAILED);
      await eventually(async () =>
        expect((await t.stores.sessions.get(next.id)).state).toBe("FAILED"),
      );
      await w.stop();
    });

    it("leaves ended and ending sessions as they are, and applies a repeated event once", async () => {
      const t = setup();
      const done = await t.readySession("frank");
      const ending = await t.readySession("frank");
      const failing = await t.readySession("frank");
      await t.client.terminateSession({ sessionId: done.id });
      await t.until(done.id, "TERMINATED");
      t.refuse.deleteServer.add(ending.serverId); // its DeleteServer hangs: TERMINATING
      await t.client.terminateSession({ sessionId: ending.id });
      const w = await t.following();
      await t.move(done.serverId, ServerState.FAILED);
      await t.move(ending.serverId, ServerState.FAILED);
      await t.move(failing.serverId, ServerState.FAILED);
      await t.move(failing.serverId, ServerState.FAILED); // the same news twice
      await eventually(async () =>
        expect(await t.audits(failing.id, "session.failed")).toHaveLength(1),
      );
      await w.stop();
      expect(await t.stores.sessions.get(done.id)).toMatchObject({
        state: "TERMINATED",
        stateReason: "TERMINATE_REQUESTED",
      });
      expect(await t.stores.sessions.get(ending.id)).toMatchObject({
        state: "TERMINATING",
        stateReason: "TERMINATE_REQUESTED",
      });
      expect((await t.sessionEvents(failing.id)).filter((e) => e.to === "FAILED")).toHaveLength(1);
    });
  });

  describe("reconcile()", () => {
    it("fails a session whose server went FAILED without an event reaching it", async () => {
      const t = setup();
      const s = await t.readySession("gina");
      await t.sessions.connectionChanged(s.id, "CONNECTED", 1, t.clock());
      t.advance(4_000);
      await t.move(s.serverId, ServerState.FAILED, {
        reason: ServerStateReason.INSTANCE_FAILED,
        message: "crash loop",
        quietly: true,
      });
      expect(await t.follower.reconcile()).toBe(1);
      const ended = await t.stores.sessions.get(s.id);
      expect(ended).toMatchObject({
        state: "FAILED",
        stateReason: "SERVER_FAILED",
        totalConnectedMs: 4_000,
      });
      expect(await t.audits(s.id, "session.failed")).toHaveLength(1);
      expect(await t.sessionEvents(s.id)).toContainEqual({
        from: "ACTIVE",
        to: "FAILED",
        reason: "SERVER_FAILED",
      });
      // Run again: nothing more to do, nothing written twice.
      expect(await t.follower.reconcile()).toBe(0);
      expect(await t.audits(s.id, "session.failed")).toHaveLength(1);
    });

    it("fails with SERVER_DELETED a session whose server server-manager no longer knows (NOT_FOUND), or STOPPED", async () => {
      const t = setup();
      const gone = await t.readySession("hana");
      const stopped = await t.readySession("hana");
      t.servers.delete(gone.serverId);
      await t.move(stopped.serverId, ServerState.STOPPED, { quietly: true });
      expect(await t.follower.reconcile()).toBe(2);
      for (const s of [gone, stopped]) {
        expect((await t.client.getSession({ sessionId: s.id })).session).toMatchObject({
          state: SessionState.FAILED,
          stateReason: SessionStateReason.SERVER_DELETED,
        });
      }
    });

    it("leaves sessions on live servers alone and asks GetServer only about servers not listed live", async () => {
      const t = setup();
      const ready = await t.readySession("ivan");
      const draining = await t.readySession("ivan");
      const failed = await t.readySession("ivan");
      await t.move(draining.serverId, ServerState.DRAINING, { quietly: true });
      await t.move(failed.serverId, ServerState.FAILED, { quietly: true });
      expect(await t.follower.reconcile()).toBe(1);
      expect(t.calls.getServer).toBe(1);
      expect((await t.stores.sessions.get(ready.id)).state).toBe("READY");
      expect((await t.stores.sessions.get(draining.id)).state).toBe("READY");
      expect((await t.stores.sessions.get(failed.id)).stateReason).toBe("SERVER_FAILED");
    });

    it("ends nothing while server-manager does not answer", async () => {
      const t = setup();
      const s = await t.readySession("jane");
      await t.move(s.serverId, ServerState.FAILED, { quietly: true });
      t.refuse.getServer = true;
      await t.follower.reconcile().catch(() => undefined);
      expect((await t.stores.sessions.get(s.id)).state).toBe("READY");
      t.refuse.getServer = false;
      expect(await t.follower.reconcile()).toBe(1);
    });
  });
});
