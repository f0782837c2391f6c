/**
 * server-manager as two real replicas sharing real Redis and FerretDB, in front of a real
 * xrdp-integration node running real xrdp, called through the generated clients over gRPC (issue 5,
 * "Tests — real processes"): concurrent creates over both replicas, idempotency by request_id,
 * graceful deletes that leave nothing behind, a killed xrdp repaired or marked, a replica killed
 * mid-create leaking nothing once the reaper ran, drain, and heartbeat loss.
 *
 * The tests share one mesh and run in order; each cleans up the servers it made, except "deletes
 * every server", which deletes whatever the tests before it left. Every wait polls with a deadline;
 * nothing is asserted about how long anything took.
 */
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  type CreateServerRequestSchema,
  InstanceState,
  NodeHealth,
  type Server,
  ServerState,
  ServerStateReason,
} from "@lucid-rdp/gen";
import {
  bindable,
  connectErrorOf,
  type Mesh,
  meshFixture,
  meshWaitFor,
  type SkipContext,
} from "@lucid-rdp/testing";
import { probeRdp, probeUntilReady } from "@lucid-rdp/xrdp-integration";
import { describe, expect, it } from "vitest";

/** How long the node's heartbeat lease lasts (NODE_HEARTBEAT_TTL_MS). */
const heartbeatTtlMs = 5_000;
const env = {
  // 20 servers at once on one node: its cap, and a port range wider than that (the mesh gives
  // each node 100 ports).
  XRDP_MAX_INSTANCES: "32",
  NODE_HEARTBEAT_TTL_MS: String(heartbeatTtlMs),
  // The reaper runs often and gives up on a PROVISIONING server of a dead replica quickly.
  SERVER_MANAGER_REAPER_INTERVAL_MS: "500",
  SERVER_MANAGER_PROVISIONING_TIMEOUT_MS: "5000",
};
/** The longest any test waits for the mesh to converge. */
const convergeMs = 60_000;
const testTimeout = 180_000;

const fixture = meshFixture({ serverManagers: 2, xrdpNodes: 1, env });

/** The mesh, or: report the missing tool and skip the test. */
const need = (ctx: SkipContext): Mesh => fixture.need(ctx);

/** A server-manager client whose calls may wait out a 30 s `wait_timeout`. */
const sm = (m: Mesh, replica: number) => m.serverManager(replica, { timeoutMs: 60_000 });

type CreateInit = MessageInitShape<typeof CreateServerRequestSchema>;

/** A create with a fresh request_id that waits up to 30 s for READY. */
function createRequest(
  fields: { owner?: string; nodeId?: string; labels?: Record<string, string> } = {},
): CreateInit {
  return { requestId: randomUUID(), owner: "mesh-test", waitTimeout: { seconds: 30n }, ...fields };
}

function show(s: Server | undefined): string {
  if (s === undefined) return "(no server)";
  return `${s.id} ${ServerState[s.state]} ${ServerStateReason[s.stateReason]} ${s.endpoint?.host}:${s.endpoint?.port} ${s.stateMessage}`;
}

/** Every server, paging through ListServers on replica #0. */
async function listAll(
  m: Mesh,
  filters: { owner?: string; labels?: Record<string, string> } = {},
): Promise<Server[]> {
  const all: Server[] = [];
  let pageToken = "";
  do {
    const page = await sm(m, 0).listServers({ pageSize: 1000, pageToken, ...filters });
    all.push(...page.servers);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return all;
}

const notTerminal = new Set([
  ServerState.PROVISIONING,
  ServerState.READY,
  ServerState.DRAINING,
  ServerState.STOPPING,
]);

/** Polls GetServer until the server is in `state`; returns it. */
function untilState(m: Mesh, serverId: string, state: ServerState): Promise<Server> {
  let last: Server | undefined;
  return meshWaitFor(
    m,
    `server ${serverId} ${ServerState[state]}`,
    async () => {
      last = (await sm(m, 0).getServer({ serverId })).server;
      return last?.state === state ? last : undefined;
    },
    { detail: () => show(last) },
  );
}

/** Creates a READY server through replica #0 (fails the test otherwise). */
async function createReady(m: Mesh, owner: string): Promise<Server> {
  const { server } = await sm(m, 0).createServer(createRequest({ owner }));
  expect(server?.state, show(server)).toBe(ServerState.READY);
  return server as Server;
}

async function forceDelete(m: Mesh, servers: Server[]): Promise<void> {
  await Promise.all(servers.map((s) => sm(m, 0).deleteServer({ serverId: s.id, force: true })));
}

describe("server-manager over a real mesh (2 replicas, xrdp-integration on real xrdp, Redis, FerretDB)", () => {
  describe("CreateServer", () => {
    it(
      "gives 20 concurrent creates over both replicas 20 distinct ports, each READY and answering RDP",
      async (ctx) => {
        const m = need(ctx);
        const node = m.nodes[0]!;
        const before = m.xrdpProcesses().length;
        const label = { test: "spread" };
        const responses = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            sm(m, i % 2).createServer(createRequest({ owner: `spread-${i}`, labels: label })),
          ),
        );
        const servers = responses.map((r) => r.server as Server);
        for (const s of servers) {
          expect(s.state, show(s)).toBe(ServerState.READY);
          expect(s.nodeId).toBe(node.nodeId);
          expect(s.instanceId).not.toBe("");
          expect(s.endpoint?.host).toBe(node.env.NODE_RDP_HOST);
          expect(s.endpoint?.port).toBeGreaterThanOrEqual(node.portRange.start);
          expect(s.endpoint?.port).toBeLessThanOrEqual(node.portRange.end);
        }
        const ports = servers.map((s) => s.endpoint?.port as number);
        expect(new Set(servers.map((s) => s.id)).size).toBe(20);
        expect(new Set(ports).size).toBe(20);

        const probes = await Promise.all(
          servers.map((s) =>
            // Twenty xrdp processes on two cores: allow a busy one a few seconds to answer.
            probeUntilReady(s.endpoint?.host ?? "", s.endpoint?.port ?? 0, {
              deadlineMs: 30_000,
              intervalMs: 250,
              attemptTimeoutMs: 5_000,
            }),
          ),
        );
        expect(probes.map((p, i) => (p.ok ? "ok" : `${ports[i]}: ${p.reason}`))).toEqual(
          Array(20).fill("ok"),
        );
        expect(m.xrdpProcesses().length).toBe(before + 20);

        // Both replicas see the same 20 servers, and the pool holds exactly their ports.
        for (const replica of [0, 1]) {
          for (const s of servers) {
            const got = (await sm(m, replica).getServer({ serverId: s.id })).server;
            expect(got?.state, `${show(got)}\n${m.logs(40)}`).toBe(ServerState.READY);
            expect(got?.endpoint?.port).toBe(s.endpoint?.port);
          }
        }
        expect((await listAll(m, { labels: label })).length).toBe(20);
        const pool = (await sm(m, 1).getPortPool({ nodeId: node.nodeId })).portPool;
        const held = new Map(pool?.allocations.map((a) => [a.port, a.serverId]));
        for (const s of servers) expect(held.get(s.endpoint?.port ?? 0)).toBe(s.id);
      },
      testTimeout,
    );

    it(
      "creates ONE server when the same request_id arrives 10 times at once over both replicas",
      async (ctx) => {
        const m = need(ctx);
        const owner = "same-request";
        const request = createRequest({ owner });
        const before = m.xrdpProcesses().length;
        const responses = await Promise.all(
          Array.from({ length: 10 }, (_, i) => sm(m, i % 2).createServer(request)),
        );
        const ids = new Set(responses.map((r) => r.server?.id));
        expect(ids.size).toBe(1);
        const id = [...ids][0] as string;
        const ready = await untilState(m, id, ServerState.READY);
        expect(responses.map((r) => r.server?.endpoint?.port)).toEqual(
          Array(10).fill(ready.endpoint?.port),
        );
        expect((await listAll(m, { owner })).map((s) => s.id)).toEqual([id]);
        expect(m.xrdpProcesses().length, m.logs(40)).toBe(before + 1);
      },
      testTimeout,
    );
  });

  describe("DeleteServer", () => {
    it(
      "deletes every server gracefully: all STOPPED, no xrdp left, every port bindable and free in the pool",
      async (ctx) => {
        const m = need(ctx);
        const node = m.nodes[0]!;
        let live = (await listAll(m)).filter((s) => notTerminal.has(s.state));
        if (live.length < 3) {
          // Run alone: make something to delete.
          await Promise.all([1, 2, 3].map((i) => createReady(m, `delete-${i}`)));
          live = (await listAll(m)).filter((s) => notTerminal.has(s.state));
        }
        const ports = live.map((s) => s.endpoint?.port as number);
        const deleted = await Promise.all(
          live.map((s, i) =>
            sm(m, i % 2).deleteServer({ serverId: s.id, gracePeriod: { seconds: 10n } }),
          ),
        );
        for (const d of deleted) {
          // "It returns without waiting for STOPPED": DRAINING or STOPPING.
          expect([ServerState.DRAINING, ServerState.STOPPING], show(d.server)).toContain(
            d.server?.state,
          );
        }
        for (const s of live) {
          const stopped = await untilState(m, s.id, ServerState.STOPPED);
          expect(stopped.stateReason).toBe(ServerStateReason.DELETE_REQUESTED);
        }
        expect(m.xrdpProcesses().filter((p) => p.nodeId === node.nodeId)).toEqual([]);
        const busy: number[] = [];
        for (const port of ports) if (!(await bindable(port))) busy.push(port);
        expect(busy).toEqual([]);
        const pool = (await sm(m, 0).getPortPool({ nodeId: node.nodeId })).portPool;
        // STOPPED means "the port is free": no waiting for our ports.
        expect(pool?.allocations.filter((a) => ports.includes(a.port))).toEqual([]);
        // A FAILED server of an earlier test, if any, holds its port until the reaper reclaims it.
        let held = "";
        const emptied = await meshWaitFor(
          m,
          "an empty port pool",
          async () => {
            const p = (await sm(m, 0).getPortPool({ nodeId: node.nodeId })).portPool;
            held = p?.allocations.map((a) => `${a.port}=${a.serverId}`).join(", ") ?? "";
            return p?.allocations.length === 0 ? p : undefined;
          },
          { detail: () => held },
        );
        expect(emptied.freeCount).toBe(node.portRange.end - node.portRange.start + 1);
        // A retry of a delete returns the server unchanged.
        const again = await sm(m, 1).deleteServer({ serverId: live[0]?.id ?? "" });
        expect(again.server?.state).toBe(ServerState.STOPPED);
      },
      testTimeout,
    );
  });

  describe("repair", () => {
    it(
      "notices kill -9 of a server's xrdp: READY again on the same port, or FAILED with its port freed",
      async (ctx) => {
        const m = need(ctx);
        const node = m.nodes[0]!;
        const server = await createReady(m, "crash-xrdp");
        const port = server.endpoint?.port as number;
        const instance = (await m.xrdp(0).getInstance({ instanceId: server.instanceId })).instance;
        const oldPid = instance?.pid as number;
        expect(m.xrdpProcesses()).toContainEqual({ pid: oldPid, nodeId: node.nodeId });

        process.kill(oldPid, "SIGKILL");

        let last = "";
        const outcome = await meshWaitFor(
          m,
          "the server repaired (READY, new xrdp) or marked FAILED with its port freed",
          async (): Promise<"repaired" | "marked failed" | undefined> => {
            const s = (await sm(m, 0).getServer({ serverId: server.id })).server;
            last = show(s);
            if (s?.state === ServerState.READY && s.endpoint?.port === port) {
              const i = (await m.xrdp(0).getInstance({ instanceId: s.instanceId })).instance;
              last += ` instance ${InstanceState[i?.state ?? 0]} pid ${i?.pid}`;
              if (
                i?.state === InstanceState.READY &&
                i.pid !== 0 &&
                i.pid !== oldPid &&
                (await probeRdp("127.0.0.1", port, { timeoutMs: 5_000 })).ok
              ) {
                return "repaired";
              }
            }
            if (s?.state === ServerState.FAILED) {
              const pool = (await sm(m, 0).getPortPool({ nodeId: node.nodeId })).portPool;
              if (!pool?.allocations.some((a) => a.serverId === server.id || a.port === port)) {
                return "marked failed";
              }
            }
            return undefined;
          },
          { detail: () => last },
        );
        expect(["repaired", "marked failed"]).toContain(outcome);
        const after = (await sm(m, 0).getServer({ serverId: server.id })).server;
        if (outcome === "repaired") {
          expect(after?.state).toBe(ServerState.READY);
          expect(m.xrdpProcesses().map((p) => p.pid)).not.toContain(oldPid);
        } else {
          expect(after?.state).toBe(ServerState.FAILED);
          expect([
            ServerStateReason.INSTANCE_FAILED,
            ServerStateReason.INSTANCE_VANISHED,
          ]).toContain(after?.stateReason);
        }
        await forceDelete(m, [server]);
      },
      testTimeout,
    );
  });

  describe("DrainNode", () => {
    it(
      "keeps new servers off a drained node while its servers stay READY; UndrainNode restores placement",
      async (ctx) => {
        const m = need(ctx);
        const nodeId = m.nodes[0]!.nodeId;
        const kept = await createReady(m, "drain-kept");

        expect((await sm(m, 0).drainNode({ nodeId })).node?.draining).toBe(true);
        // Draining a draining node is a no-op.
        expect((await sm(m, 1).drainNode({ nodeId })).node?.draining).toBe(true);
        const listed = (await sm(m, 1).listNodes({})).nodes.find((n) => n.id === nodeId);
        expect(listed?.draining).toBe(true);

        const refusedOwner = "drain-refused";
        for (const replica of [0, 1]) {
          const err = await connectErrorOf(
            sm(m, replica).createServer(createRequest({ owner: refusedOwner })),
          );
          expect([Code.ResourceExhausted, Code.Unavailable], String(err)).toContain(err?.code);
          expect(err?.rawMessage).toMatch(new RegExp(`${nodeId}|drain`, "i"));
        }
        // Asking for the draining node by name is FAILED_PRECONDITION.
        const pinned = await connectErrorOf(
          sm(m, 0).createServer(createRequest({ owner: refusedOwner, nodeId })),
        );
        expect(pinned?.code, String(pinned)).toBe(Code.FailedPrecondition);
        expect(pinned?.rawMessage).toMatch(new RegExp(`${nodeId}|drain`, "i"));
        // Nothing half-created.
        expect(await listAll(m, { owner: refusedOwner })).toEqual([]);

        // The existing server lives on.
        const still = (await sm(m, 1).getServer({ serverId: kept.id })).server;
        expect(still?.state).toBe(ServerState.READY);
        const port = kept.endpoint?.port as number;
        expect((await probeRdp("127.0.0.1", port, { timeoutMs: 5_000 })).ok).toBe(true);

        expect((await sm(m, 1).undrainNode({ nodeId })).node?.draining).toBe(false);
        const placed = await createReady(m, "drain-after");
        expect(placed.nodeId).toBe(nodeId);
        await forceDelete(m, [kept, placed]);
      },
      testTimeout,
    );
  });

  describe("reaper", () => {
    it(
      "leaks nothing when a replica is killed with SIGKILL in the middle of 5 creates",
      async (ctx) => {
        const m = need(ctx);
        const node = m.nodes[0]!;
        const owner = "crash-replica";
        const victim = m.serverManagers[1]!;
        const client = sm(m, 1);
        // Settled from the start: the kill can reject them before anything awaits them.
        const creates = Promise.allSettled(
          Array.from({ length: 5 }, () => client.createServer(createRequest({ owner }))),
        );
        // Kill it once creation is under way (a record exists), or after 10 s at the latest.
        await meshWaitFor(
          m,
          "a record of the creates",
          async () => ((await listAll(m, { owner })).length > 0 ? true : undefined),
          { timeoutMs: 10_000 },
        ).catch(() => undefined);
        victim.kill("SIGKILL");
        await victim.exited;
        await creates;

        // After the reaper on replica #0 ran: no server stuck, no stray xrdp, no stray lease.
        let problems: string[] = [];
        await meshWaitFor(
          m,
          "nothing leaked after the reaper ran",
          async () => {
            problems = await leaks(m, node.nodeId);
            return problems.length === 0 ? true : undefined;
          },
          { detail: () => problems.join("; ") },
        );
        const mine = await listAll(m, { owner });
        for (const s of mine) {
          expect([ServerState.READY, ServerState.FAILED, ServerState.STOPPED], show(s)).toContain(
            s.state,
          );
        }
        await forceDelete(
          m,
          mine.filter((s) => notTerminal.has(s.state)),
        );
      },
      testTimeout,
    );
  });

  describe("node heartbeat", () => {
    it(
      "marks a node UNHEALTHY when its heartbeat lapses and places nothing there until it registers again",
      async (ctx) => {
        const m = need(ctx);
        const node = m.nodes[0]!;
        node.server.kill("SIGKILL");
        await node.server.exited;

        let health = "";
        await meshWaitFor(
          m,
          `${node.nodeId} UNHEALTHY after its ${heartbeatTtlMs} ms lease lapsed`,
          async () => {
            const listed = (await sm(m, 0).listNodes({})).nodes.find((n) => n.id === node.nodeId);
            health = `${NodeHealth[listed?.health ?? 0]} ${listed?.healthMessage}`;
            return listed?.health === NodeHealth.UNHEALTHY ? listed : undefined;
          },
          { timeoutMs: heartbeatTtlMs + convergeMs, detail: () => health },
        );

        const owner = "after-heartbeat-loss";
        const err = await connectErrorOf(sm(m, 0).createServer(createRequest({ owner })));
        expect(err?.code, String(err)).toBe(Code.Unavailable);
        expect(err?.rawMessage).toMatch(/no healthy node/i);
        // Asking for the unhealthy node by name is FAILED_PRECONDITION.
        const pinned = await connectErrorOf(
          sm(m, 0).createServer(createRequest({ owner, nodeId: node.nodeId })),
        );
        expect(pinned?.code, String(pinned)).toBe(Code.FailedPrecondition);
        expect(await listAll(m, { owner })).toEqual([]);

        // Registering again (the node restarts) brings placement back.
        await m.restartNode(0);
        await meshWaitFor(m, `${node.nodeId} HEALTHY again`, async () => {
          const listed = (await sm(m, 0).listNodes({})).nodes.find((n) => n.id === node.nodeId);
          return listed?.health === NodeHealth.HEALTHY ? listed : undefined;
        });
        const placed = await createReady(m, owner);
        expect(placed.nodeId).toBe(node.nodeId);
        await forceDelete(m, [placed]);
      },
      testTimeout,
    );
  });
});

/**
 * What a settled mesh must not have: a server outside READY, FAILED and STOPPED; an xrdp process of
 * the node that is not the instance of a READY server; a port lease not held by a live server.
 */
async function leaks(m: Mesh, nodeId: string): Promise<string[]> {
  const problems: string[] = [];
  const servers = await listAll(m);
  const byId = new Map(servers.map((s) => [s.id, s]));
  for (const s of servers) {
    if (![ServerState.READY, ServerState.FAILED, ServerState.STOPPED].includes(s.state)) {
      problems.push(`server ${show(s)}`);
    }
  }
  const { instances } = await m.xrdp(0).listInstances({ pageSize: 1000 });
  for (const p of m.xrdpProcesses().filter((x) => x.nodeId === nodeId)) {
    const instance = instances.find((i) => i.pid === p.pid);
    const server = instance === undefined ? undefined : byId.get(instance.serverId);
    if (server?.state !== ServerState.READY) {
      problems.push(
        `xrdp pid ${p.pid} (instance ${instance?.id ?? "unknown"}) serves ${server ? show(server) : "no server"}`,
      );
    }
  }
  const pool = (await sm(m, 0).getPortPool({ nodeId })).portPool;
  for (const a of pool?.allocations ?? []) {
    const server = byId.get(a.serverId);
    if (server === undefined || !notTerminal.has(server.state)) {
      problems.push(
        `port ${a.port} held by ${server ? show(server) : `unknown server ${a.serverId}`}`,
      );
    }
  }
  return problems;
}
