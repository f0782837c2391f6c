/**
 * CreateServer's wait while the server is PROVISIONING (its instance still starting), through the
 * generated client on createRouterTransport with memory stores and bus and a stand-in orchestrator
 * that leaves the server PROVISIONING: the wait reads the server again on events about it (and no
 * others), ends at READY or FAILED, at its deadline, and falls back to a re-read every second when
 * events are lost.
 */
import { randomUUID } from "node:crypto";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { ServerManagerService, ServerState } from "@lucid-rdp/gen";
import {
  BusWakeups,
  createMemoryCoordination,
  createMemoryStores,
  MemoryEventBus,
} from "@lucid-rdp/storage";
import { countingCalls } from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";
import type { ServerState as StoredServerState } from "../src/domain/server-state.js";
import { NodeRepository } from "../src/nodes/node-repository.js";
import { routes } from "../src/routes.js";
import type { Orchestrator } from "../src/servers/orchestrator.js";
import { ServerReader } from "../src/servers/server-reader.js";
import { ServerManagerHandler } from "../src/service/server-manager-service.js";
import type { ServerRecord } from "../src/store/records.js";
import { serverManagerSpecs } from "../src/store/specs.js";
import type { ServerStore } from "../src/store/stores.js";

/** Lets promise callbacks and bus deliveries run. */
const settle = () => new Promise((r) => setImmediate(r));

function setup(opts: { silentWakeups?: boolean; createdReady?: boolean } = {}) {
  const stores = createMemoryStores(serverManagerSpecs);
  const { bus, ports } = createMemoryCoordination();
  let created!: (id: string) => void;
  const serverCreated = new Promise<string>((r) => {
    created = r;
  });
  // Stands in for the orchestrator: stores the server PROVISIONING, as when StartInstance's own
  // wait ended before the instance was READY; the test then moves it on as the reaper would.
  // With `createdReady`, stores it READY and hands that record back, as a warm hand-out does.
  const orchestrator = {
    create: async (input: { requestId: string; owner: string }) => {
      const id = randomUUID();
      const record = await stores.servers.insert({
        id,
        requestId: input.requestId,
        owner: input.owner,
        nodeId: "node-1",
        host: "10.0.0.5",
        port: 3400,
        labels: {},
        ...(opts.createdReady
          ? { state: "READY" as const, instanceId: randomUUID(), readyTime: new Date() }
          : { state: "PROVISIONING" as const }),
      });
      created(id);
      return opts.createdReady ? { id, record } : { id };
    },
  } as unknown as Orchestrator;

  // Only CreateServer's own reads go through this store.
  const { store: servers, calls: reads } = countingCalls(stores.servers as ServerStore, "get");
  const handler = new ServerManagerHandler({
    orchestrator,
    servers: new ServerReader(servers),
    ports,
    nodeRepo: new NodeRepository({
      nodes: stores.nodes,
      servers: stores.servers,
      bus: new MemoryEventBus(),
      audit: stores.auditEvents,
      logger: { warn: () => undefined },
    }),
    bus,
    defaultDeleteGraceMs: 0,
    shutdownSignal: () => undefined,
    // Wake-ups on a bus nobody publishes to: as if every event were lost.
    ...(opts.silentWakeups
      ? { wakeups: new BusWakeups({ bus: new MemoryEventBus(), family: "server" }) }
      : {}),
  });
  const client = createClient(ServerManagerService, createRouterTransport(routes(handler)));

  /** Moves the server to `state` and publishes it, as the orchestrator does. */
  const moveTo = async (id: string, state: StoredServerState, changes: Partial<ServerRecord>) => {
    const current = await stores.servers.get(id);
    const next = await stores.servers.update(id, current.version, { ...changes, state });
    await bus.publish({
      type: "server.state_changed",
      subject: id,
      data: { server: next, previousState: current.state },
    });
  };
  /** Resolves once CreateServer has read the server `n` times (it is waiting from then on). */
  const readsReach = async (n: number) => {
    for (let i = 0; i < 1_000 && reads.n < n; i++) await settle();
    expect(reads.n).toBeGreaterThanOrEqual(n);
  };
  return { client, bus, reads, serverCreated, moveTo, readsReach };
}

const createRequest = (waitSeconds: bigint, nanos = 0) => ({
  requestId: randomUUID(),
  owner: "alice",
  waitTimeout: { seconds: waitSeconds, nanos },
});

describe("ServerManagerHandler", () => {
  describe("createServer() with wait_timeout", () => {
    it("answers READY after the server's READY event, reading it again only on its own events", async () => {
      const t = setup();
      const call = t.client.createServer(createRequest(30n));
      call.catch(() => undefined); // handled at once; awaited below
      const id = await t.serverCreated;
      await t.readsReach(1);
      const before = t.reads.n;
      for (let i = 0; i < 20; i++) {
        await t.bus.publish({ type: "server.state_changed", subject: randomUUID(), data: {} });
      }
      await settle();
      expect(t.reads.n).toBe(before);

      await t.moveTo(id, "READY", { instanceId: randomUUID(), readyTime: new Date() });
      const res = await call;
      expect(res.server?.state).toBe(ServerState.READY);
      expect(t.reads.n).toBe(before + 1);
    });

    it("answers from the record the create stored READY, without reading it again", async () => {
      const t = setup({ createdReady: true });
      const res = await t.client.createServer(createRequest(30n));
      expect(res.server?.state).toBe(ServerState.READY);
      expect(res.server?.id).toBe(await t.serverCreated);
      expect(t.reads.n).toBe(0);
    });

    it("answers FAILED when the server fails", async () => {
      const t = setup();
      const call = t.client.createServer(createRequest(30n));
      call.catch(() => undefined); // handled at once; awaited below
      const id = await t.serverCreated;
      await t.readsReach(1);
      await t.moveTo(id, "FAILED", {
        stateReason: "PROVISIONING_FAILED",
        stateMessage: "the instance failed",
      });
      const res = await call;
      expect(res.server?.state).toBe(ServerState.FAILED);
      expect(res.server?.stateMessage).toBe("the instance failed");
    });

    it("answers at its deadline with the server still PROVISIONING, not at the next re-read", async () => {
      const t = setup();
      const t0 = Date.now();
      const res = await t.client.createServer(createRequest(0n, 200_000_000));
      const elapsed = Date.now() - t0;
      expect(res.server?.state).toBe(ServerState.PROVISIONING);
      expect(elapsed).toBeGreaterThanOrEqual(190);
      // That it ends at the deadline and not at the next re-read (WAKEUP_RECHECK_MS) is proven
      // without wall time by BusWakeups.waitUntil's unit test.
    });

    it("still answers READY when no event arrives, from its re-read every second", async () => {
      const t = setup({ silentWakeups: true });
      const call = t.client.createServer(createRequest(30n));
      call.catch(() => undefined); // handled at once; awaited below
      const id = await t.serverCreated;
      // Moved on only once the wait has read it PROVISIONING, so the answer needs a re-read.
      await t.readsReach(1);
      await t.moveTo(id, "READY", { instanceId: randomUUID(), readyTime: new Date() });
      const res = await call;
      expect(res.server?.state).toBe(ServerState.READY);
      expect(t.reads.n).toBe(2);
    });
  });
});
