/**
 * A RegisterNode cut mid-write (its caller's deadline) must leave nothing behind on the node's
 * record: the next heartbeat renews the lease at once and CreateServer places on the node (issue
 * 15, item 4). On the memory stores (every call delayed like a round trip) and on FerretDB, where
 * an update first takes a version claim; there the cut lands while the claim's insert is on the
 * wire, as a 3 s deadline did in the field.
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  EndpointSchema,
  InstanceSchema,
  InstanceState,
  NodeHealth,
  PortRangeSchema,
  RegisterNodeRequestSchema,
  ServerManagerService,
  ServerState,
  type StartInstanceRequest,
} from "@lucid-rdp/gen";
import { EnvReader } from "@lucid-rdp/runtime";
import {
  createApp,
  readServerManagerConfig,
  type XrdpClient,
  xrdpNodeOf,
} from "@lucid-rdp/server-manager";
import {
  createMemoryCoordination,
  createMemoryStores,
  createMongoStores,
  type StoresOf,
} from "@lucid-rdp/storage";
import { MissingToolError, type RealServer, startMongoWire, withLatency } from "@lucid-rdp/testing";
import { MongoClient } from "mongodb";
import { afterAll, describe, expect, it } from "vitest";
import { serverManagerSpecs } from "../src/store/specs.js";
import type { NodeStore } from "../src/store/stores.js";

const heartbeat = (nodeId: string) =>
  create(RegisterNodeRequestSchema, {
    nodeId,
    address: create(EndpointSchema, { host: "10.0.0.5", port: 3389 }),
    maxServers: 10,
    portRange: create(PortRangeSchema, { start: 3390, end: 3489 }),
    leaseTtl: { seconds: 15n },
    serving: true,
  });

/**
 * The handler over `stores` with a test clock and a node whose StartInstance starts anything
 * READY. `nodes` replaces the stores' node store (a delayed view of it).
 */
function setup(stores: StoresOf<typeof serverManagerSpecs>, nodes: NodeStore = stores.nodes) {
  const coordination = createMemoryCoordination();
  let clock = new Date("2026-12-06T12:00:00Z").getTime();
  const now = () => new Date(clock);
  const node = {
    async startInstance(req: StartInstanceRequest) {
      return {
        instance: create(InstanceSchema, {
          id: `instance-${req.port}`,
          serverId: req.serverId,
          state: InstanceState.READY,
        }),
      };
    },
  };
  const app = createApp(
    readServerManagerConfig(new EnvReader({})),
    { stores: { ...stores, nodes }, coordination },
    { nodes: { forNode: () => xrdpNodeOf(node as unknown as XrdpClient) } },
    { clock: now },
  );
  const client = createClient(ServerManagerService, createRouterTransport(app.routes));
  return {
    client,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

/**
 * Registers node `nodeId`, cuts a heartbeat 10 s later with `cut` (which aborts the controller
 * it is given while the heartbeat's write is under way), then heartbeats again at 14 s and
 * creates a server at 20 s: past the lease of the first registration, within the second's.
 */
async function cutThenCarryOn(
  t: ReturnType<typeof setup>,
  nodeId: string,
  cut: (c: AbortController) => void,
) {
  await t.client.registerNode(heartbeat(nodeId));
  t.advance(10_000);
  const controller = new AbortController();
  cut(controller);
  const cutCall = await t.client
    .registerNode(heartbeat(nodeId), { signal: controller.signal })
    .then(
      () => "answered",
      (e: unknown) => ConnectError.from(e).code,
    );
  expect(controller.signal.aborted).toBe(true);
  expect(cutCall).toBe(Code.Canceled);

  // The next heartbeat is not blocked by what the cut one left.
  t.advance(4_000);
  const renewed = await t.client.registerNode(heartbeat(nodeId));
  expect(renewed.node?.health).toBe(NodeHealth.HEALTHY);

  // The first registration's lease has lapsed; the renewed one runs: the node takes servers.
  t.advance(6_000);
  const created = await t.client.createServer({
    requestId: randomUUID(),
    owner: "alice",
    nodeId: "",
  });
  expect(created.server).toMatchObject({ nodeId, state: ServerState.READY });
}

let server: RealServer | undefined;
try {
  server = await startMongoWire();
} catch (e) {
  if (!(e instanceof MissingToolError)) throw e;
  e.report("register-node cut on FerretDB");
}
afterAll(async () => {
  await server?.close();
});

describe("ServerManagerHandler.registerNode() cut mid-write", () => {
  it("memory stores: the next heartbeat and CreateServer go through at once", async () => {
    const stores = createMemoryStores(serverManagerSpecs);
    // Every node-store call delayed like a round trip; the cut lands when the update starts.
    let armed: AbortController | undefined;
    const delayed = withLatency(stores.nodes);
    const nodes = new Proxy(delayed, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== "update" || typeof v !== "function") return v;
        return (...args: unknown[]) => {
          const p = (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          armed?.abort(new Error("deadline"));
          armed = undefined;
          return p;
        };
      },
    });
    const t = setup(stores, nodes);
    await cutThenCarryOn(t, "node-mem", (c) => {
      armed = c;
    });
  });

  it.skipIf(server === undefined)(
    "FerretDB: a claim taken before the cut is given back; heartbeat and CreateServer go through",
    async () => {
      const url = server?.url as string;
      const client = new MongoClient(url, {
        ignoreUndefined: true,
        serverSelectionTimeoutMS: 5000,
        monitorCommands: true,
      });
      const db = client.db(`cut_${randomUUID().slice(0, 8)}`);
      try {
        const stores = createMongoStores(db, serverManagerSpecs, {
          writeConcern: { w: "majority" },
          // A claim the cut left behind would block the next heartbeat for this long (past the
          // test's own timeout): the test fails, whatever the machine's speed.
          claimTimeoutMs: 600_000,
        });
        await stores.ensureIndexes();
        let armed: AbortController | undefined;
        // The cut lands the moment the version claim's insert goes on the wire.
        client.on("commandStarted", (ev) => {
          if (ev.commandName === "insert" && ev.command.insert === "nodes_claims" && armed) {
            armed.abort(new Error("deadline"));
            armed = undefined;
          }
        });
        const t = setup(stores);
        await cutThenCarryOn(t, "node-ferret", (c) => {
          armed = c;
        });
        // Nothing is left claimed beyond the record's current version.
        const node = await stores.nodes.get("node-ferret");
        const left = await db
          .collection<{ _id: string }>("nodes_claims")
          .find({ rid: "node-ferret" })
          .toArray();
        expect(left.map((c) => c._id).sort()).toEqual(
          left.length === 0 ? [] : [`node-ferret:${node.version}`],
        );
        // A claim held by a writer still at work does not hide the node from placement, which
        // reads the last committed record.
        await db.collection<{ _id: string; rid: string; at: Date }>("nodes_claims").insertOne({
          _id: `node-ferret:${node.version + 1}`,
          rid: "node-ferret",
          at: new Date(),
        });
        const placed = await t.client.createServer({ requestId: randomUUID(), owner: "bob" });
        expect(placed.server).toMatchObject({ nodeId: "node-ferret", state: ServerState.READY });
      } finally {
        await db.dropDatabase().catch(() => undefined);
        await client.close();
      }
    },
    30_000,
  );
});
