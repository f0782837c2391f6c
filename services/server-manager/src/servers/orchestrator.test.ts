import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { InstanceSchema, InstanceState, type StartInstanceRequest } from "@lucid-rdp/gen";
import { createLogger, ErrorInfoSchema } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores, type StoresOf } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { type XrdpClient, XrdpNodeClients, xrdpNodeOf } from "../clients/xrdp-node-clients.js";
import { serverManagerSpecs } from "../store/specs.js";
import {
  Orchestrator,
  type OrchestratorOptions,
  PortPoolExhaustedError,
  systemActor,
} from "./orchestrator.js";
import { ServerRepository } from "./server-repository.js";

/** An Orchestrator over memory stores and coordination, silent, with the clients and options given. */
function orchestratorOn(
  stores: StoresOf<typeof serverManagerSpecs>,
  coordination: ReturnType<typeof createMemoryCoordination>,
  rest: Pick<OrchestratorOptions, "clients"> & Partial<OrchestratorOptions>,
): Orchestrator {
  const logger = createLogger({ service: "test", level: "silent" });
  return new Orchestrator({
    repo: new ServerRepository({
      servers: stores.servers,
      bus: coordination.bus,
      audit: stores.auditEvents,
      logger,
    }),
    servers: stores.servers,
    nodes: stores.nodes,
    ports: coordination.ports,
    leases: coordination.leases,
    logger,
    ...rest,
  });
}

describe("Orchestrator.nodeViews()", () => {
  it("keeps a node whose host health is fatal off placement, naming why", async () => {
    const stores = createMemoryStores(serverManagerSpecs);
    const coordination = createMemoryCoordination();
    const now = new Date();
    for (const [id, host] of [
      ["node-a", "10.0.0.1"],
      ["node-b", "10.0.0.2"],
    ] as const) {
      await stores.nodes.insert({
        id,
        address: `${host}:3389`,
        rdpHost: host,
        maxServers: 4,
        draining: false,
        source: "registered",
        lastHeartbeatTime: now,
        heartbeatTtlMs: 60_000,
        portRangeStart: 3390,
        portRangeEnd: 3489,
        labels: {},
        serving: true,
      });
    }
    const asked: string[] = [];
    const o = orchestratorOn(stores, coordination, {
      clients: new XrdpNodeClients({ deadlineMs: 1_000 }),
      hostHealth: async (host) => {
        asked.push(host);
        return host === "10.0.0.1"
          ? { fatal: true, message: "disk_space: / is 97% full" }
          : { fatal: false, message: "" };
      },
    });
    const views = await o.nodeViews();
    const a = views.find((v) => v.node.id === "node-a");
    const b = views.find((v) => v.node.id === "node-b");
    expect(a).toMatchObject({
      healthy: false,
      message: "host health is fatal: disk_space: / is 97% full",
    });
    expect(b?.healthy).toBe(true);
    expect(asked.sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
  });
});

describe("Orchestrator.create()", () => {
  /**
   * One node with the port range given, on the memory adapters, whose StartInstance refuses the
   * ports in `unbindable` with PORT_IN_USE (as xrdp-integration's bind probe does) and starts
   * anything else READY.
   */
  async function oneNode(
    range: { start: number; end: number },
    unbindable: Set<number>,
    random?: () => number,
  ) {
    const stores = createMemoryStores(serverManagerSpecs);
    const coordination = createMemoryCoordination();
    await stores.nodes.insert({
      id: "node-a",
      address: "10.0.0.1:3389",
      rdpHost: "10.0.0.1",
      maxServers: 100,
      draining: false,
      source: "registered",
      lastHeartbeatTime: new Date(),
      heartbeatTtlMs: 60_000,
      portRangeStart: range.start,
      portRangeEnd: range.end,
      labels: {},
      serving: true,
    });
    const asked: number[] = [];
    const node = {
      async startInstance(req: StartInstanceRequest) {
        asked.push(req.port);
        if (unbindable.has(req.port)) {
          throw new ConnectError(`port ${req.port} is in use`, Code.FailedPrecondition, undefined, [
            {
              desc: ErrorInfoSchema,
              value: { reason: "PORT_IN_USE", metadata: { port: String(req.port) } },
            },
          ]);
        }
        return {
          instance: create(InstanceSchema, {
            id: `instance-${req.port}`,
            serverId: req.serverId,
            state: InstanceState.READY,
          }),
        };
      },
    };
    const orchestrator = orchestratorOn(stores, coordination, {
      // Only StartInstance is called on the way to READY.
      clients: { forNode: () => xrdpNodeOf(node as unknown as XrdpClient) },
      random,
    });
    const createServer = () =>
      orchestrator.create({ requestId: randomUUID(), owner: "alice", labels: {} }, systemActor);
    return { stores, ports: coordination.ports, asked, createServer };
  }

  it("moves past ports the node cannot bind, releasing each, to the first one it can", async () => {
    const range = { start: 3390, end: 3399 };
    const unbindable = new Set([3390, 3391, 3392, 3393, 3394, 3395, 3397, 3398, 3399]);
    // The scan starts at 3397 (0.75 of 10 ports) and wraps after 3399.
    const { stores, ports, asked, createServer } = await oneNode(range, unbindable, () => 0.75);
    const { id, record } = await createServer();
    const stored = await stores.servers.get(id);
    expect(stored).toMatchObject({ state: "READY", port: 3396 });
    // The record it stored READY comes back with the id: CreateServer answers from it.
    expect(record).toEqual(stored);
    expect(asked).toEqual([3397, 3398, 3399, 3390, 3391, 3392, 3393, 3394, 3395, 3396]);
    const held = await ports.list("node-a");
    expect([...held.keys()]).toEqual([3396]);
    expect(held.get(3396)?.startsWith(`${id}|`)).toBe(true);
  });

  it("passes over a port a live server record holds without a claim", async () => {
    const { stores, ports, createServer } = await oneNode(
      { start: 3390, end: 3391 },
      new Set<number>(),
      () => 0,
    );
    // A server record whose claim is gone (the record store says the port is taken).
    await stores.servers.insert({
      id: "server-old",
      owner: "bob",
      nodeId: "node-a",
      host: "10.0.0.1",
      port: 3390,
      state: "READY",
      labels: {},
    });
    const { id } = await createServer();
    expect((await stores.servers.get(id)).port).toBe(3391);
    expect([...(await ports.list("node-a")).keys()]).toEqual([3391]);
  });

  it("gives up with PortPoolExhaustedError after 16 ports the node cannot bind, holding none", async () => {
    const range = { start: 3390, end: 3419 };
    const everyPort = new Set(Array.from({ length: 30 }, (_, i) => 3390 + i));
    const { ports, asked, createServer } = await oneNode(range, everyPort);
    await expect(createServer()).rejects.toBeInstanceOf(PortPoolExhaustedError);
    expect(asked).toHaveLength(16);
    expect(new Set(asked).size).toBe(16);
    expect(await ports.list("node-a")).toEqual(new Map());
  });

  it("fails with PortPoolExhaustedError without asking the node when every port is claimed", async () => {
    const { ports, asked, createServer } = await oneNode({ start: 3390, end: 3392 }, new Set());
    for (const port of [3390, 3391, 3392]) await ports.claim("node-a", port, `other|${port}`);
    await expect(createServer()).rejects.toBeInstanceOf(PortPoolExhaustedError);
    expect(asked).toEqual([]);
    // Once one claim is released (by its holder or the reaper), the next create gets that port.
    await ports.release("node-a", 3391, "other|3391");
    await createServer();
    expect(asked).toEqual([3391]);
  });
});
