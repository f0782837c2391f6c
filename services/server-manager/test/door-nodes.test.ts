/**
 * Servers on nodes with an RDP front door (issue 18), through the handler on the memory adapters
 * with a fake node: the node registers its door port and warm pool; a server placed on it takes no
 * port claim, asks StartInstance for port 0, has the door as its endpoint and keeps the routing
 * token of StartInstance's answer, which every read of the server carries. A create that lost its
 * answer is resumed with the same request id and gets the same token; the reaper never promotes a
 * door server without one. Nothing of a door server's is ever claimed or released in the port pool.
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import {
  EndpointSchema,
  InstanceState,
  PortRangeSchema,
  RegisterNodeRequestSchema,
  ServerManagerService,
  ServerState,
} from "@lucid-rdp/gen";
import { createLogger, EnvReader, ErrorMapper } from "@lucid-rdp/runtime";
import {
  createApp,
  readServerManagerConfig,
  type XrdpClient,
  xrdpNodeOf,
} from "@lucid-rdp/server-manager";
import { createMemoryCoordination, createMemoryStores, type PortLeases } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { errorRules } from "../src/error-rules.js";
import { requestHashOf } from "../src/servers/provisioner.js";
import { instanceRequestId, serverIdFor } from "../src/servers/server-ids.js";
import { systemActor } from "../src/servers/server-repository.js";
import { serverManagerSpecs } from "../src/store/specs.js";
import { FakeNode } from "./support/fake-node.js";

const logger = createLogger({ service: "test", level: "silent" });

/** A heartbeat of a node (at 10.0.0.5 unless `host` says otherwise) whose xrdp-integration (and front door, if any) is on 3389. */
const heartbeat = (
  nodeId: string,
  door: { port: number; target?: number; ready?: number },
  host = "10.0.0.5",
) =>
  create(RegisterNodeRequestSchema, {
    nodeId,
    address: create(EndpointSchema, { host, port: 3389 }),
    rdpHost: "rdp.node.example",
    maxServers: 50,
    portRange: create(PortRangeSchema, { start: 3390, end: 3489 }),
    leaseTtl: { seconds: 300n },
    serving: true,
    rdpDoorPort: door.port,
    warmPoolTarget: door.target ?? 0,
    warmPoolReady: door.ready ?? 0,
  });

/** The port-pool calls that take, test or give back a claim: none may name a door node. */
const claimMethods = new Set(["allocate", "claim", "release", "owner", "releaseAllOf"]);

async function setup() {
  const stores = createMemoryStores(serverManagerSpecs);
  const coordination = createMemoryCoordination();
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  // Every claim call, with the node it names.
  const claimCalls: { method: string; nodeId: string }[] = [];
  const ports = new Proxy(coordination.ports, {
    get(target, p, r) {
      const v = Reflect.get(target, p, r);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (claimMethods.has(String(p))) {
          // releaseAllOf(ownerId, nodeId): the node is the second argument.
          const nodeId = String(p === "releaseAllOf" ? args[1] : args[0]);
          claimCalls.push({ method: String(p), nodeId });
        }
        return v.apply(target, args);
      };
    },
  }) as PortLeases;
  const node = new FakeNode();
  const app = createApp(
    { ...readServerManagerConfig(new EnvReader({})), defaultDeleteGraceMs: 0 },
    { stores, coordination: { ...coordination, ports } },
    { nodes: { forNode: () => xrdpNodeOf(node as unknown as XrdpClient) } },
    { logger, clock: now },
  );
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
  await client.registerNode(heartbeat("door-1", { port: 3389, target: 4, ready: 3 }));
  return {
    app,
    client,
    node,
    ports: coordination.ports,
    claimCalls,
    advance: (ms: number) => {
      offset += ms;
    },
    /** The token the node gave the instance of server `id`. */
    tokenOf: (id: string) => node.instances.get(instanceRequestId(id))?.routingToken,
  };
}

const request = (requestId: string, waitSeconds = 30n) => ({
  requestId,
  owner: "alice",
  nodeId: "door-1",
  waitTimeout: { seconds: waitSeconds },
});

const unavailable = () => new ConnectError("connection reset", Code.Unavailable);

describe("ServerManagerHandler on a node with an RDP front door", () => {
  describe("registerNode()", () => {
    it("stores the door port and the warm pool, shown by ListNodes; a node without a door shows 0", async () => {
      const t = await setup();
      const first = await t.client.registerNode(heartbeat("plain-1", { port: 0 }, "10.0.0.6"));
      expect(first.node).toMatchObject({ rdpDoorPort: 0, warmPoolTarget: 0, warmPoolReady: 0 });
      const renewed = await t.client.registerNode(
        heartbeat("door-1", { port: 3389, target: 4, ready: 4 }),
      );
      expect(renewed.node).toMatchObject({
        rdpDoorPort: 3389,
        warmPoolTarget: 4,
        warmPoolReady: 4,
      });
      const { nodes } = await t.client.listNodes({});
      expect(
        nodes.map((n) => [n.id, n.rdpDoorPort, n.warmPoolTarget, n.warmPoolReady]).sort(),
      ).toEqual([
        ["door-1", 3389, 4, 4],
        ["plain-1", 0, 0, 0],
      ]);
    });

    it("lets a door node change its port range although its servers' endpoints lie outside it", async () => {
      const t = await setup();
      await t.client.createServer(request(randomUUID()));
      const res = await t.client.registerNode({
        ...heartbeat("door-1", { port: 3389 }),
        portRange: create(PortRangeSchema, { start: 4000, end: 4099 }),
      });
      expect(res.node?.portRange).toMatchObject({ start: 4000, end: 4099 });
    });
  });

  describe("createServer()", () => {
    it("takes no port claim, asks for port 0, answers the door as endpoint and the instance's token", async () => {
      const t = await setup();
      const res = await t.client.createServer(request(randomUUID()));
      const id = res.server?.id ?? "";
      expect(res.server).toMatchObject({
        state: ServerState.READY,
        endpoint: { host: "rdp.node.example", port: 3389 },
      });
      expect(t.node.starts.map((s) => s.port)).toEqual([0]);
      const token = t.tokenOf(id);
      expect(token).toMatch(/^lr1-/);
      expect(res.server?.routingToken).toBe(token);
      expect((await t.client.getServer({ serverId: id })).server?.routingToken).toBe(token);
      const listed = await t.client.listServers({});
      expect(listed.servers.map((s) => s.routingToken)).toEqual([token]);
      expect(t.claimCalls).toEqual([]);
      expect(await t.ports.list("door-1")).toEqual(new Map());
    });

    it("places many servers behind the one door port, each with its own token", async () => {
      const t = await setup();
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => t.client.createServer(request(randomUUID()))),
      );
      expect(answers.map((a) => a.server?.state)).toEqual(Array(5).fill(ServerState.READY));
      expect(new Set(answers.map((a) => a.server?.endpoint?.port))).toEqual(new Set([3389]));
      const tokens = answers.map((a) => a.server?.routingToken);
      expect(tokens.every((tok) => tok?.startsWith("lr1-"))).toBe(true);
      expect(new Set(tokens).size).toBe(5);
      expect(t.claimCalls).toEqual([]);
    });

    it("carries the token in the READY event of WatchServers", async () => {
      const t = await setup();
      const abort = new AbortController();
      const { lastEventId } = await t.client.listServers({});
      const stream = t.client.watchServers({ afterEventId: lastEventId }, { signal: abort.signal });
      const requestId = randomUUID();
      const id = serverIdFor(requestId);
      const seen = (async () => {
        for await (const e of stream) {
          if (e.server?.id === id && e.server.state === ServerState.READY) return e.server;
        }
        return undefined;
      })();
      await t.client.createServer(request(requestId));
      const ready = await seen;
      abort.abort();
      expect(ready?.routingToken).toBe(t.tokenOf(id));
    });

    it("fails a door server whose node answers READY without a token, rather than make it READY", async () => {
      const t = await setup();
      t.node.giveTokens = false;
      const res = await t.client.createServer(request(randomUUID()));
      expect(res.server).toMatchObject({ state: ServerState.FAILED, routingToken: "" });
      expect(res.server?.stateMessage).toContain("routing token");
    });

    it("answers a retry of a create whose answer was lost with the same token", async () => {
      const t = await setup();
      const requestId = randomUUID();
      // The node started the instance, then the answer was lost; the caller gave up waiting.
      t.node.script.push({ fail: unavailable(), after: true }, { fail: unavailable() });
      const first = await t.client.createServer(request(requestId, 0n));
      expect(first.server).toMatchObject({ state: ServerState.PROVISIONING, routingToken: "" });
      const again = await t.client.createServer(request(requestId));
      const id = serverIdFor(requestId);
      expect(again.server).toMatchObject({ id, state: ServerState.READY });
      expect(again.server?.routingToken).toBe(t.tokenOf(id));
      expect(new Set(t.node.starts.map((s) => `${s.requestId}:${s.port}`))).toEqual(
        new Set([`${instanceRequestId(id)}:0`]),
      );
      expect(t.node.live()).toHaveLength(1);
      expect(t.claimCalls).toEqual([]);
    });

    it("resumes a create a dead replica stored before StartInstance: port 0, no claim, READY with the token", async () => {
      const t = await setup();
      const requestId = randomUUID();
      const id = serverIdFor(requestId);
      await t.app.repo.insert(
        {
          id,
          requestId,
          requestHash: requestHashOf({ requestId, owner: "alice", nodeId: "door-1", labels: {} }),
          owner: "alice",
          nodeId: "door-1",
          host: "rdp.node.example",
          port: 3389,
          viaDoor: true,
          state: "PROVISIONING",
          labels: {},
        },
        systemActor,
      );
      const res = await t.client.createServer(request(requestId));
      expect(res.server).toMatchObject({ id, state: ServerState.READY });
      expect(res.server?.routingToken).toBe(t.tokenOf(id));
      expect(t.node.starts.map((s) => s.port)).toEqual([0]);
      expect(t.claimCalls).toEqual([]);
    });
  });

  describe("the reaper", () => {
    it("does not promote a door server from ListInstances, which carries no token; it resumes it, same token", async () => {
      const t = await setup();
      const requestId = randomUUID();
      const id = serverIdFor(requestId);
      t.node.script.push({ fail: unavailable(), after: true });
      await t.client.createServer(request(requestId, 0n));
      // The node lists the instance READY, but StartInstance fails once more: no token to be had.
      t.node.script.push({ fail: unavailable() });
      const blocked = await t.app.reaper.runOnce();
      expect(blocked.promoted).toEqual([]);
      expect((await t.app.repo.get(id)).state).toBe("PROVISIONING");
      const next = await t.app.reaper.runOnce();
      expect(next.resumed).toEqual([id]);
      const s = await t.app.repo.get(id);
      expect(s).toMatchObject({ state: "READY", routingToken: t.tokenOf(id) });
      expect(s.routingToken).toMatch(/^lr1-/);
      expect(t.claimCalls).toEqual([]);
    });

    it("promotes a door server whose token came with a STARTING answer", async () => {
      const t = await setup();
      t.node.script.push({ state: InstanceState.STARTING });
      const res = await t.client.createServer(request(randomUUID(), 0n));
      const id = res.server?.id ?? "";
      expect(res.server?.state).toBe(ServerState.PROVISIONING);
      // The node's instance became READY.
      const inst = t.node.instances.get(instanceRequestId(id));
      if (inst) inst.state = InstanceState.READY;
      const report = await t.app.reaper.runOnce();
      expect(report.promoted).toEqual([id]);
      expect(await t.app.repo.get(id)).toMatchObject({
        state: "READY",
        routingToken: t.tokenOf(id),
      });
      expect(t.node.starts).toHaveLength(1);
    });
  });

  describe("deleteServer() and getPortPool()", () => {
    it("stops a door server releasing nothing, and shows the door node's pool empty", async () => {
      const t = await setup();
      const res = await t.client.createServer(request(randomUUID()));
      const id = res.server?.id ?? "";
      const deleted = await t.client.deleteServer({ serverId: id, force: true });
      expect([ServerState.STOPPING, ServerState.STOPPED]).toContain(deleted.server?.state);
      t.advance(10 * 60_000);
      await t.app.reaper.runOnce();
      expect((await t.app.repo.get(id)).state).toBe("STOPPED");
      expect(t.claimCalls).toEqual([]);
      const pool = (await t.client.getPortPool({ nodeId: "door-1" })).portPool;
      expect(pool).toMatchObject({ nodeId: "door-1", allocations: [], freeCount: 0 });
      expect(pool?.range).toBeUndefined();
    });
  });
});
