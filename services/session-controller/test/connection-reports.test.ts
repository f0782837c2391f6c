/**
 * Connection reports and connected time through the service: the generated client on
 * createRouterTransport, memory stores and bus, a fake server-manager, and a controllable clock
 * (time moves when the test says; the timers act when the test runs the leader's tick).
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { durationMs as durationOf, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import {
  ConnectionEventType,
  ConnectionSchema,
  CreateServerResponseSchema,
  DeleteServerResponseSchema,
  EndpointSchema,
  ListConnectionsResponseSchema,
  ListNodesResponseSchema,
  NodeSchema,
  ResourceType,
  ServerManagerService,
  ServerSchema,
  ServerState,
  SessionState,
  XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { createServerManagerClient } from "../src/clients/server-manager-adapter.js";
import { createXrdpNodeClient } from "../src/clients/xrdp-node-adapter.js";
import { systemActor } from "../src/domain/actor.js";
import type { SessionPolicyValues } from "../src/domain/policy.js";
import { ConnectionRepair } from "../src/sessions/connection-repair.js";
import type { SessionRecord } from "../src/store/records.js";
import { sessionControllerSpecs } from "../src/store/specs.js";
import { serviceUnderTest } from "./support/service.js";

const settle = () => new Promise((r) => setImmediate(r));
const instanceId = "0b7c5a52-7d0e-4a43-9d6e-2f1c6b0e8a11";

function setup() {
  let now = Date.parse("2026-11-21T12:00:00Z");
  const clock = () => new Date(now);
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
        deleteServer: (req) =>
          create(DeleteServerResponseSchema, {
            server: create(ServerSchema, { id: req.serverId, state: ServerState.STOPPED }),
          }),
        listNodes: () =>
          create(ListNodesResponseSchema, {
            nodes: [
              create(NodeSchema, {
                id: "node-1",
                address: create(EndpointSchema, { host: "10.0.0.5", port: 3389 }),
              }),
            ],
          }),
      }),
    ),
  );
  // node-1's xrdp-integration: ListConnections lists `listed` for every server, as its contract
  // says only logged-in connections.
  const listed: { peer: { host: string; port: number } }[] = [];
  const nodeUrls: string[] = [];
  const node = createClient(
    XrdpIntegrationService,
    createRouterTransport((router) =>
      router.service(XrdpIntegrationService, {
        listConnections: (req) =>
          create(ListConnectionsResponseSchema, {
            connections: listed.map((c) =>
              create(ConnectionSchema, { serverId: req.serverId, instanceId, ...c }),
            ),
          }),
      }),
    ),
  );
  const { sessions, client } = serviceUnderTest({
    stores,
    coordination,
    serverManager,
    logger: createLogger({ service: "test", level: "silent" }),
    clock,
  });
  const repair = new ConnectionRepair({
    store: stores.sessions,
    sessions,
    serverManager: createServerManagerClient(serverManager),
    logger: createLogger({ service: "test", level: "silent" }),
    clock,
    nodeClient: (baseUrl) => {
      nodeUrls.push(baseUrl);
      return createXrdpNodeClient(node);
    },
  });

  /** Waits (on promise callbacks, not time) until the session is in `state`. */
  const until = async (id: string, state: SessionRecord["state"]) => {
    for (let i = 0; i < 200; i++) {
      const s = await stores.sessions.get(id);
      if (s.state === state) return s;
      await settle();
    }
    return stores.sessions.get(id);
  };

  /** A READY session of `user` with the given timer lengths (ms). */
  const readySession = async (user: string, policy: Partial<SessionPolicyValues> = {}) => {
    const { id } = await sessions.create(
      {
        requestId: randomUUID(),
        user,
        display: { width: 1920, height: 1080, colorDepth: 32, monitors: 1 },
        policy,
        labels: {},
      },
      systemActor,
    );
    return until(id, "READY");
  };

  /** Sends one ReportConnectionEvent for the session's server, stamped with the clock. */
  const report = (
    s: SessionRecord,
    type: ConnectionEventType,
    connectionCount: number,
    requestId = randomUUID(),
  ) =>
    client.reportConnectionEvent({
      requestId,
      serverId: s.serverId,
      instanceId,
      type,
      peer: { host: "192.0.2.7", port: 50_123 },
      eventTime: timestampFromDate(clock()),
      connectionCount,
    });

  const connectedMs = async (id: string) => {
    const { metrics } = await client.getSessionMetrics({ sessionId: id });
    return metrics?.connectedDuration ? durationOf(metrics.connectedDuration) : 0;
  };

  return {
    client,
    sessions,
    repair,
    listed,
    nodeUrls,
    stores,
    bus: coordination.bus,
    clock,
    until,
    readySession,
    report,
    connectedMs,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("SessionControllerService", () => {
  describe("getSessionMetrics()", () => {
    it("counts the connected time of a session terminated while ACTIVE (13.6 s connected, 13.6 s reported)", async () => {
      const t = setup();
      const s = await t.readySession("alice");
      await t.report(s, ConnectionEventType.CONNECTED, 1);
      t.advance(13_600);
      await t.client.terminateSession({ sessionId: s.id, reason: "done" });
      expect(await t.connectedMs(s.id)).toBe(13_600);
      await t.until(s.id, "TERMINATED");
      t.advance(60_000); // an ended session's connected time no longer grows
      expect(await t.connectedMs(s.id)).toBe(13_600);
      const ended = await t.client.getSession({ sessionId: s.id });
      expect(ended.session?.lastDisconnectTime).toEqual(
        timestampFromDate(new Date(t.clock().getTime() - 60_000)),
      );
    });

    it.each([
      { timer: "idle", policy: { idleTimeoutMs: 300_000 }, reason: "IDLE_TIMEOUT" },
      { timer: "max_duration", policy: { maxDurationMs: 300_000 }, reason: "MAX_DURATION" },
      { timer: "keepalive", policy: { keepaliveTimeoutMs: 300_000 }, reason: "KEEPALIVE_EXPIRED" },
    ])(
      "counts the connected time of an ACTIVE session the $timer timer ends",
      async ({ policy, reason }) => {
        const t = setup();
        const s = await t.readySession("bob", policy);
        await t.report(s, ConnectionEventType.CONNECTED, 1);
        t.advance(300_000);
        await t.sessions.timersTick(); // the missed warning, then the act
        const ended = await t.until(s.id, "TERMINATED");
        expect(ended.stateReason).toBe(reason);
        expect(await t.connectedMs(s.id)).toBe(300_000);
      },
    );

    it("adds the open connection to the earlier ones when the session ends ACTIVE", async () => {
      const t = setup();
      const s = await t.readySession("carol");
      await t.report(s, ConnectionEventType.CONNECTED, 1);
      t.advance(5_000);
      await t.report(s, ConnectionEventType.DISCONNECTED, 0);
      t.advance(3_000); // disconnected: not counted
      await t.report(s, ConnectionEventType.CONNECTED, 1);
      t.advance(2_500);
      expect(await t.connectedMs(s.id)).toBe(7_500);
      await t.client.terminateSession({ sessionId: s.id });
      t.advance(10_000);
      expect(await t.connectedMs(s.id)).toBe(7_500);
    });

    it("counts the connected time of an ACTIVE session that fails", async () => {
      const t = setup();
      const s = await t.readySession("dora");
      await t.report(s, ConnectionEventType.CONNECTED, 1);
      t.advance(4_200);
      await t.sessions.transition(s.id, "FAILED", systemActor, {
        stateReason: "SERVER_FAILED",
        endTime: t.clock(),
      });
      t.advance(1_000);
      expect(await t.connectedMs(s.id)).toBe(4_200);
    });
  });

  describe("reportConnectionEvent()", () => {
    it("records a refused login as an audit event and changes nothing else, READY or ACTIVE", async () => {
      const t = setup();
      const s = await t.readySession("erin");
      for (const state of ["READY", "ACTIVE"] as const) {
        if (state === "ACTIVE") await t.report(s, ConnectionEventType.CONNECTED, 1);
        t.advance(1_000);
        const before = await t.stores.sessions.get(s.id);
        const lastEvent = await t.bus.lastEventId("session");
        const res = await t.report(s, ConnectionEventType.LOGIN_REFUSED, 0);
        expect(res.applied).toBe(true);
        expect(SessionState[res.session?.state ?? 0]).toBe(state);
        // The record is untouched: state, counters, activity, deadlines, version.
        expect(await t.stores.sessions.get(s.id)).toEqual(before);
        // Nothing a watcher could take for a change.
        expect(await t.bus.lastEventId("session")).toBe(lastEvent);
      }
      const audit = await t.client.listAuditEvents({
        resourceType: ResourceType.SESSION,
        resourceId: s.id,
        action: "session.login_refused",
      });
      expect(audit.auditEvents).toHaveLength(2);
      expect(audit.auditEvents[0]?.details).toMatchObject({
        peer: "192.0.2.7:50123",
        instance: instanceId,
        server: s.serverId,
        user: "erin",
      });
    });

    it("answers applied false to a repeated refused-login report and audits it once", async () => {
      const t = setup();
      const s = await t.readySession("frank");
      const requestId = randomUUID();
      const first = await t.report(s, ConnectionEventType.LOGIN_REFUSED, 0, requestId);
      const again = await t.report(s, ConnectionEventType.LOGIN_REFUSED, 0, requestId);
      expect([first.applied, again.applied]).toEqual([true, false]);
      expect(SessionState[again.session?.state ?? 0]).toBe("READY");
      const audit = await t.client.listAuditEvents({ action: "session.login_refused" });
      expect(audit.auditEvents).toHaveLength(1);
      expect(audit.auditEvents[0]?.requestId).toBe(requestId);
    });

    it("does not count a refused login as a connection or as activity", async () => {
      const t = setup();
      const s = await t.readySession("gina", { idleTimeoutMs: 120_000 });
      await t.report(s, ConnectionEventType.CONNECTED, 1);
      t.advance(100_000);
      await t.report(s, ConnectionEventType.LOGIN_REFUSED, 1);
      const { metrics } = await t.client.getSessionMetrics({ sessionId: s.id });
      expect(metrics).toMatchObject({ connectionCount: 1, connectCount: 1, reconnectCount: 0 });
      // The idle timer still runs from the login, not from the refusal.
      t.advance(20_000);
      await t.sessions.timersTick();
      expect((await t.until(s.id, "TERMINATED")).stateReason).toBe("IDLE_TIMEOUT");
    });
  });

  describe("the connection poll (ConnectionRepair)", () => {
    it("keeps a session READY after a refused login, which ListConnections does not list, and makes it ACTIVE for a listed login", async () => {
      const t = setup();
      const s = await t.readySession("hana");
      const refused = await t.report(s, ConnectionEventType.LOGIN_REFUSED, 0);
      expect(refused.applied).toBe(true);
      await t.repair.tick();
      expect(t.nodeUrls).toEqual(["http://10.0.0.5:3389"]);
      expect((await t.stores.sessions.get(s.id)).state).toBe("READY");
      // The owner logs in, and its CONNECTED report is lost: the poll repairs it.
      t.listed.push({ peer: { host: "192.0.2.7", port: 50_124 } });
      t.advance(5_000);
      await t.repair.tick();
      expect(await t.stores.sessions.get(s.id)).toMatchObject({
        state: "ACTIVE",
        connectionCount: 1,
      });
      t.listed.length = 0;
      t.advance(8_000);
      await t.repair.tick();
      expect((await t.stores.sessions.get(s.id)).state).toBe("DISCONNECTED");
      expect(await t.connectedMs(s.id)).toBe(8_000);
    });
  });
});
