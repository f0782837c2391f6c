/**
 * Sessions in process: memory stores and coordination, a fake server-manager behind the generated
 * client (createRouterTransport), and a controllable clock — the timers are driven by moving the
 * clock and calling the leader's tick, never by sleeping.
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import {
  CreateServerResponseSchema,
  DeleteServerResponseSchema,
  EndpointSchema,
  ServerManagerService,
  ServerSchema,
  ServerState,
} from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { createServerManagerClient } from "../src/clients/server-manager-adapter.js";
import { systemActor } from "../src/domain/actor.js";
import { CapExceededError, capKeys } from "../src/domain/caps.js";
import { defaultPolicyBounds, defaultPolicyValues } from "../src/domain/policy.js";
import { SessionEndedError } from "../src/domain/session-errors.js";
import { capDriftMs } from "../src/sessions/cap-ledger.js";
import { Sessions } from "../src/sessions/sessions.js";
import type { SessionRecord } from "../src/store/records.js";
import { sessionControllerSpecs } from "../src/store/specs.js";

function setup(
  opts: {
    perUser?: number;
    total?: number;
    /** Awaited before every update of a session record (a slow write). */
    beforeUpdate?: () => Promise<void>;
    /** Told of every CreateServer call. */
    onCreateServer?: () => void;
  } = {},
) {
  let now = Date.parse("2026-11-21T12:00:00Z");
  const clock = () => new Date(now);
  const stores = createMemoryStores(sessionControllerSpecs, { now: clock });
  const coordination = createMemoryCoordination();
  const deleted: string[] = [];
  const serverManager = createClient(
    ServerManagerService,
    createRouterTransport((router) =>
      router.service(ServerManagerService, {
        createServer: (req) => {
          opts.onCreateServer?.();
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
        deleteServer: (req) => {
          deleted.push(req.serverId);
          return create(DeleteServerResponseSchema, {
            server: create(ServerSchema, { id: req.serverId, state: ServerState.STOPPED }),
          });
        },
      }),
    ),
  );
  const sessionStore = new Proxy(stores.sessions, {
    get(target, p, receiver) {
      const v = Reflect.get(target, p, receiver) as unknown;
      if (p !== "update" || opts.beforeUpdate === undefined || typeof v !== "function") return v;
      const slow = opts.beforeUpdate;
      return async (...args: unknown[]) => {
        await slow();
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const sessions = new Sessions({
    store: sessionStore,
    audit: stores.auditEvents,
    counters: coordination.counters,
    leases: coordination.leases,
    bus: coordination.bus,
    serverManager: createServerManagerClient(serverManager),
    logger: createLogger({ service: "test", level: "silent" }),
    clock,
    defaults: defaultPolicyValues,
    bounds: defaultPolicyBounds,
    caps: { perUser: opts.perUser ?? 3, total: opts.total ?? 100 },
    warnBeforeMs: 60_000,
    provisionTimeoutMs: 120_000,
  });
  const until = async (id: string, state: SessionRecord["state"]) => {
    for (let i = 0; i < 200; i++) {
      const s = await stores.sessions.get(id);
      if (s.state === state) return s;
      await new Promise((r) => setImmediate(r));
    }
    return stores.sessions.get(id);
  };
  const input = (user: string, policy = {}) => ({
    requestId: randomUUID(),
    user,
    display: { width: 1920, height: 1080, colorDepth: 32, monitors: 1 },
    policy,
    labels: {},
  });
  return {
    sessions,
    stores,
    coordination,
    deleted,
    until,
    input,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("Sessions", () => {
  describe("create()", () => {
    it("provisions a server and becomes READY with its endpoint", async () => {
      const t = setup();
      const { id, reused } = await t.sessions.create(t.input("alice"), systemActor);
      expect(reused).toBe(false);
      const s = await t.until(id, "READY");
      expect(s).toMatchObject({ state: "READY", host: "10.0.0.5", port: 3400, nodeId: "node-1" });
    });

    it("asks for the server while PROVISIONING is being written, and writes READY after it", async () => {
      // Every session update waits until CreateServer has been called: a create that asked only
      // after its PROVISIONING write would never get there.
      let asked!: () => void;
      const serverAsked = new Promise<void>((r) => {
        asked = r;
      });
      const t = setup({ beforeUpdate: () => serverAsked, onCreateServer: () => asked() });
      const { id } = await t.sessions.create(t.input("alice"), systemActor);
      const s = await t.until(id, "READY");
      expect(s).toMatchObject({ state: "READY", host: "10.0.0.5", port: 3400 });
      const states = (await t.coordination.bus.read("session"))
        .filter((e) => e.subject === id)
        .map((e) => (e.data as { session: { state: string } }).session.state);
      expect(states).toEqual(["PENDING", "PROVISIONING", "READY"]);
    });

    it("returns the user's existing session instead of a new server", async () => {
      const t = setup();
      const first = await t.sessions.create(t.input("bob"), systemActor);
      await t.until(first.id, "READY");
      const again = await t.sessions.create(t.input("bob"), systemActor);
      expect(again).toEqual({ id: first.id, reused: true });
    });

    it("holds the per-user cap, and gives it back when a session ends", async () => {
      const t = setup({ perUser: 1 });
      const never = { reuse: "NEVER" as const };
      const first = await t.sessions.create(t.input("carol", never), systemActor);
      await t.until(first.id, "READY");
      const err = await t.sessions
        .create(t.input("carol", never), systemActor)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CapExceededError);
      expect((err as Error).message).toBe("max sessions per user (1) reached for carol");
      await t.sessions.terminate(first.id, "TERMINATE_REQUESTED", "done", systemActor);
      await t.until(first.id, "TERMINATED");
      const second = await t.sessions.create(t.input("carol", never), systemActor);
      expect(second.reused).toBe(false);
    });
    it("recounts a cap left high by a crashed replica once the drift holds, and still refuses a cap that is really full", async () => {
      const t = setup({ perUser: 2, total: 3 });
      const never = { reuse: "NEVER" as const };
      const tryCreate = () =>
        t.sessions.create(t.input("erin", never), systemActor).catch((e: unknown) => e);
      // A replica took both of erin's caps and died before storing her sessions.
      await t.coordination.counters.set(capKeys("erin").user, 2);
      await t.coordination.counters.set(capKeys("erin").total, 2);
      // Above the store for a moment is what a create in flight looks like: refused, not repaired.
      expect(await tryCreate()).toBeInstanceOf(CapExceededError);
      expect(await t.coordination.counters.get(capKeys("erin").user)).toBe(2);
      t.advance(capDriftMs);
      const first = (await tryCreate()) as { id: string };
      await t.until(first.id, "READY");
      expect(await t.coordination.counters.get(capKeys("erin").user)).toBe(1);
      expect(await t.coordination.counters.get(capKeys("erin").total)).toBe(3);
      // The total counts 2 phantom sessions and 1 real: refused first, recounted to 1 later.
      expect(await tryCreate()).toBeInstanceOf(CapExceededError);
      t.advance(capDriftMs);
      const second = (await tryCreate()) as { id: string };
      await t.until(second.id, "READY");
      expect(await t.coordination.counters.get(capKeys("erin").total)).toBe(2);
      // Two real sessions: the per-user cap is full for real and stays so, however long it waits.
      expect(await tryCreate()).toBeInstanceOf(CapExceededError);
      t.advance(capDriftMs);
      const err = await tryCreate();
      expect(err).toBeInstanceOf(CapExceededError);
      expect((err as Error).message).toBe("max sessions per user (2) reached for erin");
      expect(await t.coordination.counters.get(capKeys("erin").user)).toBe(2);
    });
  });

  describe("connections", () => {
    it("goes ACTIVE on a connection and DISCONNECTED when the last one closes", async () => {
      const t = setup();
      const { id } = await t.sessions.create(t.input("dave"), systemActor);
      await t.until(id, "READY");
      const on = await t.sessions.connectionChanged(id, "CONNECTED", 1, new Date(Date.now()));
      expect(on).toMatchObject({ applied: true, session: { state: "ACTIVE", connectionCount: 1 } });
      const off = await t.sessions.connectionChanged(
        id,
        "DISCONNECTED",
        0,
        new Date(Date.now() + 1),
      );
      expect(off.session.state).toBe("DISCONNECTED");
      // An older report changes nothing.
      const stale = await t.sessions.connectionChanged(id, "CONNECTED", 1, new Date(0));
      expect(stale.applied).toBe(false);
    });

    it("writes one audit event for a refused login however often the same report is retried", async () => {
      const t = setup();
      const { id } = await t.sessions.create(t.input("hal"), systemActor);
      const s = await t.until(id, "READY");
      const report = {
        requestId: randomUUID(),
        peer: { host: "2001:db8::7", port: 50_000 },
        eventTime: new Date(Date.now()),
      };
      await t.sessions.loginRefused(s, report, systemActor);
      await t.sessions.loginRefused(s, report, systemActor); // its answer was lost: retried
      const audit = await t.stores.auditEvents.list({
        where: { action: "session.login_refused" },
      });
      expect(audit.items).toHaveLength(1);
      expect(audit.items[0]).toMatchObject({
        resourceId: id,
        requestId: report.requestId,
        details: { peer: "[2001:db8::7]:50000", user: "hal", state: "READY" },
      });
      expect(await t.stores.sessions.get(id)).toEqual(s);
    });
  });

  describe("timers", () => {
    it("warns before the connect deadline, then terminates the session with that reason", async () => {
      const t = setup();
      const { id } = await t.sessions.create(
        t.input("erin", { connectDeadlineMs: 600_000 }),
        systemActor,
      );
      await t.until(id, "READY");
      const cursor = await t.coordination.bus.lastEventId("session");
      t.advance(541_000); // past the warning (60 s before), before the deadline
      await t.sessions.timersTick();
      expect((await t.stores.sessions.get(id)).state).toBe("READY");
      t.advance(60_000); // past the deadline
      await t.sessions.timersTick();
      const s = await t.until(id, "TERMINATED");
      expect(s).toMatchObject({ state: "TERMINATED", stateReason: "CONNECT_DEADLINE" });
      const events = await t.coordination.bus.read("session", { after: cursor });
      const warning = events.findIndex((e) => e.type === "session.timer_warning");
      const ending = events.findIndex(
        (e) =>
          e.type === "session.state_changed" &&
          (e.data as { session: SessionRecord }).session.state === "TERMINATING",
      );
      expect(warning).toBeGreaterThanOrEqual(0);
      expect(warning).toBeLessThan(ending);
      expect((events[warning]?.data as { timer: string } | undefined)?.timer).toBe("connect");
      expect(t.deleted).toHaveLength(1);
    });

    it("ends an idle ACTIVE session with IDLE_TIMEOUT, warning once", async () => {
      const t = setup();
      const { id } = await t.sessions.create(
        t.input("frank", { idleTimeoutMs: 120_000 }),
        systemActor,
      );
      await t.until(id, "READY");
      await t.sessions.connectionChanged(id, "CONNECTED", 1, new Date(Date.now()));
      t.advance(61_000);
      await t.sessions.timersTick();
      await t.sessions.timersTick(); // a second tick must not warn again
      const cursor = "0-0";
      const warnings = (await t.coordination.bus.read("session", { after: cursor })).filter(
        (e) => e.type === "session.timer_warning",
      );
      expect(warnings).toHaveLength(1);
      t.advance(60_000);
      await t.sessions.timersTick();
      expect((await t.until(id, "TERMINATED")).stateReason).toBe("IDLE_TIMEOUT");
    });
  });

  it("refuses KeepAlive on an ended session, naming its state", async () => {
    const t = setup();
    const { id } = await t.sessions.create(t.input("gina"), systemActor);
    await t.until(id, "READY");
    await t.sessions.terminate(id, "TERMINATE_REQUESTED", "done", systemActor);
    await t.until(id, "TERMINATED");
    const err = await t.sessions.keepAlive(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionEndedError);
    expect((err as Error).message).toContain("TERMINATED");
  });
});
