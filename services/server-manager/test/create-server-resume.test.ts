/**
 * CreateServer across crashes and outages (issue 15), through the handler on the memory adapters
 * with a fake node: a create that died at any step is resumed by a retry with its request_id or by
 * the reaper, never duplicated; an uncertain StartInstance (a node that crashed or restarted) never
 * fails the server before the provisioning timeout; a create that fails for certain leaves
 * nothing; a store outage answers UNAVAILABLE. No assertion on how long anything takes: the
 * reaper's clock is a test clock.
 */
import { randomUUID } from "node:crypto";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { InstanceState, ServerManagerService, ServerState } from "@lucid-rdp/gen";
import { createLogger, EnvReader, ErrorInfoSchema, ErrorMapper } from "@lucid-rdp/runtime";
import {
  createApp,
  readServerManagerConfig,
  type XrdpClient,
  xrdpNodeOf,
} from "@lucid-rdp/server-manager";
import {
  BackendUnavailableError,
  createMemoryCoordination,
  createMemoryStores,
} from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { errorRules } from "../src/error-rules.js";
import { requestHashOf } from "../src/servers/provisioner.js";
import {
  claimOwner,
  instanceRequestId,
  parseClaimOwner,
  serverIdFor,
} from "../src/servers/server-ids.js";
import { systemActor } from "../src/servers/server-repository.js";
import { serverManagerSpecs } from "../src/store/specs.js";
import type { ServerStore } from "../src/store/stores.js";
import { FakeNode } from "./support/fake-node.js";

const logger = createLogger({ service: "test", level: "silent" });
const provisioningTimeoutMs = 60_000;

/** A store whose calls fail BackendUnavailableError while `down.now` is set. */
function outage<T extends object>(store: T, down: { now: boolean }): T {
  return new Proxy(store, {
    get(target, p, r) {
      const v = Reflect.get(target, p, r);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (down.now) return Promise.reject(new BackendUnavailableError("mongodb"));
        return v.apply(target, args);
      };
    },
  });
}

async function setup(range = { start: 3390, end: 3489 }) {
  const stores = createMemoryStores(serverManagerSpecs);
  const coordination = createMemoryCoordination();
  // Real time plus what the test moved on (the handler's waits run on it too).
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const down = { now: false };
  const servers = outage(stores.servers as ServerStore, down);
  await stores.nodes.insert({
    id: "node-1",
    address: "10.0.0.5:3389",
    rdpHost: "10.0.0.5",
    maxServers: 50,
    draining: false,
    source: "registered",
    lastHeartbeatTime: now(),
    heartbeatTtlMs: 3_600_000,
    portRangeStart: range.start,
    portRangeEnd: range.end,
    labels: {},
    serving: true,
  });
  const node = new FakeNode();
  const app = createApp(
    {
      ...readServerManagerConfig(new EnvReader({})),
      provisioningTimeoutMs,
      defaultDeleteGraceMs: 0,
    },
    { stores: { ...stores, servers }, coordination },
    { nodes: { forNode: () => xrdpNodeOf(node as unknown as XrdpClient) } },
    { logger, clock: now },
  );
  const { repo, orchestrator, reaper } = app;
  const mapper = new ErrorMapper(errorRules);
  const mapErrors: Interceptor = (next) => async (req) => {
    try {
      return await next(req);
    } catch (e) {
      throw mapper.map(e).error;
    }
  };
  const client = createClient(
    ServerManagerService,
    createRouterTransport(app.routes, { router: { interceptors: [mapErrors] } }),
  );
  return {
    stores,
    ports: coordination.ports,
    node,
    repo,
    orchestrator,
    reaper,
    client,
    down,
    advance: (ms: number) => {
      offset += ms;
    },
    now,
    /** Every live server. */
    live: async () =>
      (
        await stores.servers.list({
          where: { state: { in: ["PROVISIONING", "READY", "DRAINING", "STOPPING"] } },
          pageSize: 1000,
        })
      ).items,
    /** Every claimed port of node-1, with the server id that holds it. */
    claims: async () =>
      [...(await coordination.ports.list("node-1")).entries()].map(([port, owner]) => ({
        port,
        serverId: parseClaimOwner(owner).serverId,
      })),
  };
}

const request = (requestId: string, waitSeconds = 30n) => ({
  requestId,
  owner: "alice",
  waitTimeout: { seconds: waitSeconds },
});

const unavailable = () => new ConnectError("connection reset", Code.Unavailable);

describe("ServerManagerHandler", () => {
  describe("createServer() after a crash", () => {
    it("resumes the server a dead replica stored: one server, READY, on its port, StartInstance by the server's request id", async () => {
      const t = await setup();
      const requestId = randomUUID();
      const id = serverIdFor(requestId);
      // What a replica killed between the insert and StartInstance leaves: a claim and a record.
      await t.ports.claim("node-1", 3400, claimOwner(id, t.now()));
      await t.repo.insert(
        {
          id,
          requestId,
          requestHash: requestHashOf({ requestId, owner: "alice", labels: {} }),
          owner: "alice",
          nodeId: "node-1",
          host: "10.0.0.5",
          port: 3400,
          state: "PROVISIONING",
          labels: {},
        },
        systemActor,
      );
      const res = await t.client.createServer(request(requestId));
      expect(res.server).toMatchObject({ id, state: ServerState.READY });
      expect((await t.repo.get(id)).port).toBe(3400);
      expect(t.node.starts.map((s) => [s.requestId, s.port])).toEqual([
        [instanceRequestId(id), 3400],
      ]);
      expect(await t.live()).toHaveLength(1);
      expect(await t.claims()).toEqual([{ port: 3400, serverId: id }]);
    });

    it("answers a retry of a finished create with the same server, creating nothing", async () => {
      const t = await setup();
      const requestId = randomUUID();
      const first = await t.client.createServer(request(requestId));
      const again = await t.client.createServer(request(requestId));
      expect(again.server?.id).toBe(first.server?.id);
      expect(again.server?.state).toBe(ServerState.READY);
      expect(t.node.starts).toHaveLength(1);
    });

    it("makes one server for ten concurrent calls with one request id", async () => {
      const t = await setup();
      const requestId = randomUUID();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => t.client.createServer(request(requestId))),
      );
      expect(new Set(answers.map((a) => a.server?.id))).toEqual(new Set([serverIdFor(requestId)]));
      expect(answers.every((a) => a.server?.state === ServerState.READY)).toBe(true);
      expect(await t.live()).toHaveLength(1);
      expect(await t.claims()).toHaveLength(1);
      expect(t.node.live()).toHaveLength(1);
    });

    it("two concurrent calls of one request id on a one-port pool: one server, its claim kept", async () => {
      const t = await setup({ start: 3390, end: 3390 });
      const requestId = randomUUID();
      const [a, b] = await Promise.all([
        t.client.createServer(request(requestId)),
        t.client.createServer(request(requestId)),
      ]);
      expect(a.server?.id).toBe(serverIdFor(requestId));
      expect(b.server?.id).toBe(a.server?.id);
      expect(b.server?.state).toBe(ServerState.READY);
      expect(await t.claims()).toEqual([{ port: 3390, serverId: serverIdFor(requestId) }]);
    });

    it("refuses the request id with other parameters: ALREADY_EXISTS, REQUEST_ID_REUSED", async () => {
      const t = await setup();
      const requestId = randomUUID();
      await t.client.createServer(request(requestId));
      const err = await t.client
        .createServer({ ...request(requestId), owner: "bob" })
        .then(() => undefined, ConnectError.from);
      expect(err?.code).toBe(Code.AlreadyExists);
      expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("REQUEST_ID_REUSED");
    });

    it("leaves nothing after a definite refusal (INVALID_ARGUMENT); a retry runs the create again", async () => {
      const t = await setup();
      const requestId = randomUUID();
      t.node.script.push({ fail: new ConnectError("settings", Code.InvalidArgument) });
      const err = await t.client
        .createServer(request(requestId))
        .then(() => undefined, ConnectError.from);
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(await t.stores.servers.find(serverIdFor(requestId))).toBeUndefined();
      expect(await t.claims()).toEqual([]);
      const res = await t.client.createServer(request(requestId));
      expect(res.server?.state).toBe(ServerState.READY);
    });
  });

  describe("createServer() when the node crashes or restarts", () => {
    it("retries an UNAVAILABLE StartInstance in the same call while its caller waits: READY, never FAILED", async () => {
      const t = await setup();
      // The node crashed after starting the instance, then refused a call while restarting.
      t.node.script.push({ fail: unavailable(), after: true }, { fail: unavailable() });
      const res = await t.client.createServer(request(randomUUID()));
      expect(res.server?.state).toBe(ServerState.READY);
      expect(new Set(t.node.starts.map((s) => `${s.requestId}:${s.port}`)).size).toBe(1);
      expect(t.node.live()).toHaveLength(1);
    });

    it("keeps a server whose StartInstance was CANCELLED PROVISIONING past its caller's wait; the reaper resumes it", async () => {
      const t = await setup();
      t.node.down = new ConnectError("peer went away", Code.Canceled);
      const res = await t.client.createServer(request(randomUUID(), 0n));
      expect(res.server?.state).toBe(ServerState.PROVISIONING);
      await t.reaper.runOnce(); // the node is still down: nothing changes
      expect((await t.repo.get(res.server?.id ?? "")).state).toBe("PROVISIONING");
      t.node.down = undefined;
      const report = await t.reaper.runOnce();
      expect(report.resumed).toEqual([res.server?.id]);
      expect((await t.repo.get(res.server?.id ?? "")).state).toBe("READY");
    });

    it("promotes a server whose instance the restarted node adopted, without a second StartInstance", async () => {
      const t = await setup();
      t.node.script.push({ fail: unavailable(), after: true });
      const res = await t.client.createServer(request(randomUUID(), 0n));
      expect(res.server?.state).toBe(ServerState.PROVISIONING);
      await t.reaper.runOnce();
      expect((await t.repo.get(res.server?.id ?? "")).state).toBe("READY");
      expect(t.node.starts).toHaveLength(1);
    });

    it("a provisioning failure decided late never ends a server that became READY meanwhile", async () => {
      const t = await setup();
      t.node.script.push({ fail: unavailable(), after: true });
      const res = await t.client.createServer(request(randomUUID(), 0n));
      const id = res.server?.id ?? "";
      await t.reaper.runOnce();
      expect((await t.repo.get(id)).state).toBe("READY");
      // What a reaper round that listed it PROVISIONING, or an attempt still retrying, decides.
      await t.orchestrator.fail(id, "PROVISIONING_FAILED", "no instance within 5000 ms", [
        "PROVISIONING",
      ]);
      expect((await t.repo.get(id)).state).toBe("READY");
      expect(await t.claims()).toEqual([{ port: res.server?.endpoint?.port, serverId: id }]);
    });

    it("claims the port again before resuming when the claim was released", async () => {
      const t = await setup();
      t.node.down = unavailable();
      const res = await t.client.createServer(request(randomUUID(), 0n));
      const s = await t.repo.get(res.server?.id ?? "");
      const owner = await t.ports.owner("node-1", s.port);
      await t.ports.release("node-1", s.port, owner ?? "");
      t.node.down = undefined;
      await t.reaper.runOnce();
      expect((await t.repo.get(s.id)).state).toBe("READY");
      expect(await t.claims()).toEqual([{ port: s.port, serverId: s.id }]);
    });

    it("fails a server whose StartInstance stays uncertain past the provisioning timeout, freeing its port", async () => {
      const t = await setup();
      t.node.down = unavailable();
      const res = await t.client.createServer(request(randomUUID(), 0n));
      t.node.down = new ConnectError("deadline", Code.DeadlineExceeded);
      // (Records take their create time from the real clock: well past it.)
      t.advance(provisioningTimeoutMs + 60_000);
      await t.reaper.runOnce();
      expect(await t.repo.get(res.server?.id ?? "")).toMatchObject({
        state: "FAILED",
        stateReason: "PROVISIONING_FAILED",
      });
      expect(await t.claims()).toEqual([]);
    });
  });

  describe("createServer() during a store outage", () => {
    it("answers UNAVAILABLE while the store is down, and creates the server once it is back", async () => {
      const t = await setup();
      const requestId = randomUUID();
      t.down.now = true;
      const err = await t.client
        .createServer(request(requestId))
        .then(() => undefined, ConnectError.from);
      expect(err?.code).toBe(Code.Unavailable);
      t.down.now = false;
      const res = await t.client.createServer(request(requestId));
      expect(res.server?.state).toBe(ServerState.READY);
      expect(await t.live()).toHaveLength(1);
    });

    it("answers the server as it is before the caller's deadline, rather than the deadline", async () => {
      const t = await setup();
      t.node.script.push({ state: InstanceState.STARTING });
      const res = await t.client.createServer(request(randomUUID(), 30n), { timeoutMs: 2_500 });
      expect(res.server?.state).toBe(ServerState.PROVISIONING);
    });
  });
});
