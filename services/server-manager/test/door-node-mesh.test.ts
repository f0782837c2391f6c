/**
 * Servers and sessions on a node with an RDP front door (issue 18), real processes: two
 * server-manager replicas and a session-controller sharing Redis and FerretDB, in front of one
 * xrdp-integration node running real xrdp with RDP_DOOR=on and a warm pool of 2, called through the
 * generated clients over gRPC. The node registers its door and pool; servers claim no port, have
 * the door as their endpoint and the token the node answered, the same for a retried request id;
 * a session's connect info and .rdp file carry its server's token; a replica killed mid-burst
 * leaves every request id, retried, READY with a token and one instance; deleting leaves the pool
 * empty.
 *
 * The tests share one mesh and run in order. Every wait polls with a deadline; nothing is asserted
 * about how long anything took.
 */
import { randomUUID } from "node:crypto";
import { InstanceState, type Server, ServerState, SessionState } from "@lucid-rdp/gen";
import { type Mesh, meshFixture, meshWaitFor, type SkipContext } from "@lucid-rdp/testing";
import { probeRdp } from "@lucid-rdp/xrdp-integration";
import { describe, expect, it } from "vitest";

const testTimeout = 180_000;

const fixture = meshFixture({
  serverManagers: 2,
  xrdpNodes: 1,
  sessionController: true,
  env: {
    XRDP_MAX_INSTANCES: "16",
    SERVER_MANAGER_REAPER_INTERVAL_MS: "500",
  },
  nodeEnv: () => ({ RDP_DOOR: "on", WARM_POOL_SIZE: "2" }),
});

const need = (ctx: SkipContext): Mesh => fixture.need(ctx);

/** A server-manager client whose calls may wait out a 30 s `wait_timeout`. */
const sm = (m: Mesh, replica: number) => m.serverManager(replica, { timeoutMs: 60_000 });

const createRequest = (owner: string, requestId: string = randomUUID()) => ({
  requestId,
  owner,
  waitTimeout: { seconds: 30n },
});

function show(s: Server | undefined): string {
  if (s === undefined) return "(no server)";
  return `${s.id} ${ServerState[s.state]} ${s.endpoint?.host}:${s.endpoint?.port} ${s.stateMessage}`;
}

describe("server-manager over a real node with an RDP front door (RDP_DOOR=on, WARM_POOL_SIZE=2)", () => {
  it(
    "shows the node's door port and its warm pool, filled",
    async (ctx) => {
      const m = need(ctx);
      const port = m.nodes[0]?.server.port;
      const node = await meshWaitFor(m, "the node's warm pool READY", async () => {
        const { nodes } = await sm(m, 0).listNodes({});
        const n = nodes.find((x) => x.id === m.nodes[0]?.nodeId);
        return n !== undefined && n.warmPoolReady === 2 ? n : undefined;
      });
      expect(node).toMatchObject({ rdpDoorPort: port, warmPoolTarget: 2, warmPoolReady: 2 });
    },
    testTimeout,
  );

  it(
    "gives concurrent creates over both replicas the door as endpoint and a token each, claiming no port",
    async (ctx) => {
      const m = need(ctx);
      const node = m.nodes[0];
      const answers = await Promise.all(
        Array.from({ length: 4 }, (_, i) => sm(m, i % 2).createServer(createRequest("door-a"))),
      );
      const servers = answers.map((a) => a.server);
      for (const s of servers) {
        expect(s?.state, `${show(s)}\n${m.logs(40)}`).toBe(ServerState.READY);
        expect(s?.endpoint).toMatchObject({ host: "127.0.0.1", port: node?.server.port });
        expect(s?.routingToken).toMatch(/^lr1-[A-Za-z0-9_-]{32}$/);
      }
      expect(new Set(servers.map((s) => s?.routingToken)).size).toBe(4);
      // Every read of a server carries its token, on either replica.
      for (const s of servers) {
        const got = (await sm(m, 1).getServer({ serverId: s?.id ?? "" })).server;
        expect(got?.routingToken).toBe(s?.routingToken);
      }
      const pool = (await sm(m, 0).getPortPool({ nodeId: node?.nodeId ?? "" })).portPool;
      expect(pool?.allocations).toEqual([]);
      await Promise.all(
        servers.map((s) => sm(m, 0).deleteServer({ serverId: s?.id ?? "", force: true })),
      );
    },
    testTimeout,
  );

  it(
    "answers a retried request id with the same server and token",
    async (ctx) => {
      const m = need(ctx);
      const request = createRequest("door-b");
      const first = (await sm(m, 0).createServer(request)).server;
      expect(first?.state, show(first)).toBe(ServerState.READY);
      const again = (await sm(m, 1).createServer(request)).server;
      expect(again?.id).toBe(first?.id);
      expect(again?.routingToken).toBe(first?.routingToken);
      expect(first?.routingToken).toMatch(/^lr1-/);
      await sm(m, 0).deleteServer({ serverId: first?.id ?? "", force: true });
    },
    testTimeout,
  );

  it(
    "gives a session its server's token in connect info and in its .rdp file",
    async (ctx) => {
      const m = need(ctx);
      const sc = m.sessionController(0, { timeoutMs: 60_000 });
      const { session } = await sc.createSession({
        requestId: randomUUID(),
        user: "door-c",
        waitTimeout: { seconds: 30n },
      });
      expect(session?.state, session?.stateMessage).toBe(SessionState.READY);
      const server = (await sm(m, 0).getServer({ serverId: session?.serverId ?? "" })).server;
      const info = session?.connectInfo;
      expect(info?.routingToken).toBe(server?.routingToken);
      expect(info?.routingToken).toMatch(/^lr1-/);
      expect(info?.endpoint?.port).toBe(m.nodes[0]?.server.port);
      const res = await fetch(new URL(info?.rdpFilePath ?? "", m.sessionControllers[0]?.url));
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body).toBe(info?.rdpFile);
      expect(body.split("\r\n")).toContain(`loadbalanceinfo:s:${info?.routingToken}`);
      // Through the door with the token: the session's xrdp answers; without it, nothing does.
      const host = info?.endpoint?.host ?? "";
      const port = info?.endpoint?.port ?? 0;
      const routed = await probeRdp(host, port, {
        timeoutMs: 10_000,
        routingToken: info?.routingToken,
      });
      expect(routed.ok, JSON.stringify(routed)).toBe(true);
      const bare = await probeRdp(host, port, { timeoutMs: 10_000 });
      expect(bare.ok).toBe(false);
      await sc.terminateSession({ sessionId: session?.id ?? "" });
    },
    testTimeout,
  );

  it(
    "kill -9 of a replica mid-burst: every request_id retried on the other ends READY with a token, one instance each",
    async (ctx) => {
      const m = need(ctx);
      const owner = "door-kill";
      const ids = Array.from({ length: 6 }, () => randomUUID());
      const first = Promise.allSettled(
        ids.map((id) => sm(m, 1).createServer(createRequest(owner, id))),
      );
      // Kill it while creates are being stored and started: once one record exists.
      await meshWaitFor(m, "a server of the burst stored", async () => {
        const { servers } = await sm(m, 0).listServers({ owner });
        return servers.length > 0 ? true : undefined;
      });
      const victim = m.serverManagers[1] as Mesh["serverManagers"][number];
      victim.kill("SIGKILL");
      await victim.exited;
      await first;
      const servers = await Promise.all(
        ids.map((id) =>
          meshWaitFor(m, `request ${id} READY`, async () => {
            const res = await sm(m, 0)
              .createServer(createRequest(owner, id))
              .catch(() => undefined);
            return res?.server?.state === ServerState.READY ? res.server : undefined;
          }),
        ),
      );
      const tokens = servers.map((s) => s.routingToken);
      for (const t of tokens) expect(t).toMatch(/^lr1-[A-Za-z0-9_-]{32}$/);
      expect(new Set(tokens).size).toBe(ids.length);
      // One live instance per server on the node, none shared, none left over.
      const { instances } = await m.xrdp(0).listInstances({ pageSize: 1000 });
      const mine = new Set(servers.map((s) => s.id));
      const live = instances.filter((i) => mine.has(i.serverId) && i.state === InstanceState.READY);
      expect(live.map((i) => i.serverId).sort()).toEqual([...mine].sort());
      expect(new Set(live.map((i) => i.id)).size).toBe(ids.length);
      await m.restartServerManager(1);
      await Promise.all(servers.map((s) => sm(m, 0).deleteServer({ serverId: s.id, force: true })));
    },
    testTimeout,
  );

  it(
    "empties the warm pool while the node drains, and fills it again once undrained",
    async (ctx) => {
      const m = need(ctx);
      const nodeId = m.nodes[0]?.nodeId ?? "";
      const pool = async () => {
        const { nodes } = await sm(m, 0).listNodes({});
        return nodes.find((x) => x.id === nodeId);
      };
      await sm(m, 0).drainNode({ nodeId });
      // The node hears it in its next heartbeat's answer, stops its warm instances and says so.
      const drained = await meshWaitFor(m, "the drained node's pool empty", async () => {
        const n = await pool();
        return n?.warmPoolTarget === 0 && n.warmPoolReady === 0 ? n : undefined;
      });
      expect(drained.draining).toBe(true);
      const warm = await m.xrdp(0).listInstances({ pageSize: 1000 });
      expect(warm?.instances.filter((i) => i.warm && i.state !== InstanceState.STOPPED)).toEqual(
        [],
      );
      await sm(m, 0).undrainNode({ nodeId });
      const refilled = await meshWaitFor(m, "the undrained node's pool refilled", async () => {
        const n = await pool();
        return n?.warmPoolTarget === 2 && n.warmPoolReady === 2 ? n : undefined;
      });
      expect(refilled.draining).toBe(false);
    },
    testTimeout,
  );

  it(
    "stops every door server, the pool still empty",
    async (ctx) => {
      const m = need(ctx);
      const nodeId = m.nodes[0]?.nodeId ?? "";
      await meshWaitFor(m, "every server STOPPED", async () => {
        const { servers } = await sm(m, 0).listServers({ pageSize: 1000 });
        return servers.every((s) => s.state === ServerState.STOPPED) ? true : undefined;
      });
      const pool = (await sm(m, 0).getPortPool({ nodeId })).portPool;
      expect(pool).toMatchObject({ allocations: [], freeCount: 0 });
    },
    testTimeout,
  );
});
