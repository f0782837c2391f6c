/**
 * CreateServer is crash-consistent on a real mesh (issue 15): two server-manager replicas on real
 * Redis and FerretDB, one xrdp-integration node running real xrdp, called over gRPC.
 *
 * - kill -9 of replica #0 in the middle of a burst of creates, each request_id then retried on
 *   replica #1 as a careful client does: every request_id ends with exactly one READY server (the
 *   one whose id derives from it), no xrdp beyond those servers' instances, no stray port claim.
 * - kill -9 and restart of the node's xrdp-integration during a burst: the servers end READY, not
 *   FAILED (the node adopts the xrdp it ran; server-manager resumes or promotes instead of failing).
 * - FerretDB, then Redis, killed for a few seconds during a burst: every call answers a server or
 *   UNAVAILABLE (never a deadline, never INTERNAL); once the backend is back, every request_id
 *   retried ends with one READY server and nothing is left PROVISIONING.
 *
 * Both need StartInstance to survive a crashed or cut caller on the node (branch `xrdp`): with
 * main's xrdp-integration of 2026-12-06 the node dies of an unhandled E11000 on its idempotency
 * collection after its caller was killed mid-StartInstance, and the servers fail NODE unreachable.
 * On failure every service's output is written to a file the message names.
 *
 * Every wait polls with a deadline; nothing is asserted about how long anything took.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Server, ServerState, ServerStateReason } from "@lucid-rdp/gen";
import { type Mesh, meshFixture, type SkipContext } from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";
import { serverIdFor } from "../src/servers/server-ids.js";

const env = {
  XRDP_MAX_INSTANCES: "32",
  NODE_HEARTBEAT_TTL_MS: "5000",
  SERVER_MANAGER_REAPER_INTERVAL_MS: "500",
  // Long enough that a node restart never fails a server: it is resumed or promoted instead.
  SERVER_MANAGER_PROVISIONING_TIMEOUT_MS: "120000",
};
const convergeMs = 150_000;
const testTimeout = 300_000;
const burst = 10;

const fixture = meshFixture({ serverManagers: 2, xrdpNodes: 1, env });
const need = (ctx: SkipContext): Mesh => fixture.need(ctx);

const sm = (m: Mesh, replica: number) => m.serverManager(replica, { timeoutMs: 40_000 });

const request = (requestId: string, owner: string) => ({
  requestId,
  owner,
  waitTimeout: { seconds: 30n },
});

function show(s: Server | undefined): string {
  if (s === undefined) return "(no server)";
  return `${s.id} ${ServerState[s.state]} ${ServerStateReason[s.stateReason]} ${s.stateMessage}`;
}

/** Writes every service's output to a file (for a failure message); its path. */
function dumpLogs(m: Mesh, name: string): string {
  const path = join(tmpdir(), `crash-consistency-${name}-${Date.now()}.log`);
  writeFileSync(path, m.logs(100_000));
  return path;
}

/**
 * Checks that every answer is the READY server of its request id (`ids`, in order); when one is
 * not, the failure names the file the mesh's logs were written to, under `name`.
 */
function expectAllReady(
  m: Mesh,
  answers: readonly { server?: Server; errors: string[] }[],
  ids: readonly string[],
  name: string,
): void {
  const logs = answers.some((a) => a.server?.state !== ServerState.READY) ? dumpLogs(m, name) : "";
  for (const [i, a] of answers.entries()) {
    expect(a.server?.state, `${show(a.server)} errors: ${a.errors.join("; ")} logs: ${logs}`).toBe(
      ServerState.READY,
    );
    expect(a.server?.id).toBe(serverIdFor(ids[i] as string));
  }
}

async function pause(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Sends CreateServer with `requestId` to `replica` until it answers READY or a terminal state,
 * retrying every error and every PROVISIONING answer with the same request_id, as a careful
 * client does; the last answer.
 */
async function createUntilSettled(
  m: Mesh,
  replica: () => number,
  requestId: string,
  owner: string,
): Promise<{ server?: Server; errors: string[] }> {
  const deadline = Date.now() + convergeMs;
  const errors: string[] = [];
  let server: Server | undefined;
  while (Date.now() < deadline) {
    try {
      server = (await sm(m, replica()).createServer(request(requestId, owner))).server;
      if (server && server.state !== ServerState.PROVISIONING) return { server, errors };
    } catch (e) {
      errors.push(ConnectError.from(e).message);
    }
    await pause(500);
  }
  return { server, errors };
}

/**
 * Every server of `owner`, through replica `replica`. A page answered UNAVAILABLE (a backend
 * reconnecting right after an outage) is asked again, as an idempotent read may be.
 */
async function serversOf(m: Mesh, replica: number, owner: string): Promise<Server[]> {
  const all: Server[] = [];
  let pageToken = "";
  do {
    const page = await listPage(m, replica, owner, pageToken);
    all.push(...page.servers);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return all;
}

async function listPage(m: Mesh, replica: number, owner: string, pageToken: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sm(m, replica).listServers({ pageSize: 1000, pageToken, owner });
    } catch (e) {
      if (ConnectError.from(e).code !== Code.Unavailable || attempt >= 20) throw e;
      await pause(500);
    }
  }
}

/**
 * What a settled mesh must not have: an xrdp process of the node that is not the instance of a
 * READY server; a port claim not held by a live server; a server in a transient state.
 */
async function leaks(m: Mesh, replica: number): Promise<string[]> {
  const problems: string[] = [];
  const servers: Server[] = [];
  let pageToken = "";
  do {
    const page = await sm(m, replica).listServers({ pageSize: 1000, pageToken });
    servers.push(...page.servers);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  const byId = new Map(servers.map((s) => [s.id, s]));
  for (const s of servers) {
    if (![ServerState.READY, ServerState.FAILED, ServerState.STOPPED].includes(s.state)) {
      problems.push(`server ${show(s)}`);
    }
  }
  const node = m.nodes[0] as Mesh["nodes"][number];
  const { instances } = await m.xrdp(0).listInstances({ pageSize: 1000 });
  for (const p of m.xrdpProcesses().filter((x) => x.nodeId === node.nodeId)) {
    const instance = instances.find((i) => i.pid === p.pid);
    const server = instance === undefined ? undefined : byId.get(instance.serverId);
    if (server?.state !== ServerState.READY) {
      problems.push(`xrdp pid ${p.pid} serves ${server ? show(server) : "no server"}`);
    }
  }
  const pool = (await sm(m, replica).getPortPool({ nodeId: node.nodeId })).portPool;
  for (const a of pool?.allocations ?? []) {
    const s = byId.get(a.serverId);
    if (s === undefined || [ServerState.FAILED, ServerState.STOPPED].includes(s.state)) {
      problems.push(`port ${a.port} claimed for ${s ? show(s) : `unknown server ${a.serverId}`}`);
    }
  }
  return problems;
}

async function untilNoLeaks(m: Mesh, replica: number): Promise<void> {
  const deadline = Date.now() + convergeMs;
  let problems: string[] = [];
  while (Date.now() < deadline) {
    problems = await leaks(m, replica).catch((e: unknown) => [String(e)]);
    if (problems.length === 0) return;
    await pause(500);
  }
  throw new Error(`leaks left:\n${problems.join("\n")}\n${m.logs(40)}`);
}

/** Deletes the servers (force) and waits until nothing is left of them. */
async function cleanUp(m: Mesh, replica: number, servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map((s) =>
      sm(m, replica)
        .deleteServer({ serverId: s.id, force: true })
        .catch(() => undefined),
    ),
  );
  await untilNoLeaks(m, replica);
}

describe("CreateServer on a real mesh", () => {
  it(
    "kill -9 of a replica mid-burst: every request_id retried on the other ends with one READY server, nothing leaked",
    async (ctx) => {
      const m = need(ctx);
      const owner = `kill-${randomUUID().slice(0, 8)}`;
      const ids = Array.from({ length: burst }, () => randomUUID());
      const first = Promise.allSettled(ids.map((id) => sm(m, 0).createServer(request(id, owner))));
      // Kill it while creates are being stored and started: once one record exists.
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        if ((await serversOf(m, 1, owner).catch(() => [])).length > 0) break;
        await pause(50);
      }
      const victim = m.serverManagers[0] as Mesh["serverManagers"][number];
      victim.kill("SIGKILL");
      await victim.exited;
      await first;

      const answers = await Promise.all(ids.map((id) => createUntilSettled(m, () => 1, id, owner)));
      expectAllReady(m, answers, ids, "kill-replica");
      const mine = await serversOf(m, 1, owner);
      expect(mine.map((s) => s.id).sort()).toEqual(ids.map(serverIdFor).sort());
      await untilNoLeaks(m, 1);
      await m.restartServerManager(0);
      await cleanUp(m, 0, mine);
    },
    testTimeout,
  );

  it(
    "kill -9 and restart of the node mid-burst: the servers end READY, not FAILED",
    async (ctx) => {
      const m = need(ctx);
      const owner = `node-${randomUUID().slice(0, 8)}`;
      const ids = Array.from({ length: burst }, () => randomUUID());
      const answers = Promise.all(
        ids.map((id, i) => createUntilSettled(m, () => i % 2, id, owner)),
      );
      // Restart the node once some xrdp of the burst are running, i.e. mid-start for others.
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        const started = (await serversOf(m, 0, owner).catch(() => [])).length;
        if (started >= 3) break;
        await pause(50);
      }
      await m.restartNode(0);

      const settled = await answers;
      expectAllReady(m, settled, ids, "node-restart");
      const mine = await serversOf(m, 0, owner);
      expect(mine.filter((s) => s.state === ServerState.FAILED).map(show)).toEqual([]);
      await untilNoLeaks(m, 0);
      await cleanUp(m, 0, mine);
    },
    testTimeout,
  );

  for (const backend of ["mongo", "redis"] as const) {
    it(
      `${backend === "mongo" ? "FerretDB" : "Redis"} killed mid-burst: calls answer a server or UNAVAILABLE; once it is back every request_id ends READY`,
      async (ctx) => {
        const m = need(ctx);
        const owner = `${backend}-${randomUUID().slice(0, 8)}`;
        const ids = Array.from({ length: burst }, () => randomUUID());
        const first = Promise.allSettled(
          ids.map((id, i) => sm(m, i % 2).createServer(request(id, owner))),
        );
        const until = Date.now() + 20_000;
        while (Date.now() < until) {
          if ((await serversOf(m, 0, owner).catch(() => [])).length > 0) break;
          await pause(50);
        }
        await m[backend].stop();
        // Calls made while it is down.
        const during = await Promise.allSettled(
          ids.map((id, i) => sm(m, i % 2).createServer({ ...request(id, owner), waitTimeout: {} })),
        );
        await pause(3_000);
        await m[backend].start();
        const codes = [...(await first), ...during]
          .filter((r) => r.status === "rejected")
          .map((r) => Code[ConnectError.from((r as PromiseRejectedResult).reason).code]);
        expect(codes.filter((c) => c !== "Unavailable")).toEqual([]);

        const answers = await Promise.all(
          ids.map((id, i) => createUntilSettled(m, () => i % 2, id, owner)),
        );
        expectAllReady(m, answers, ids, `${backend}-outage`);
        const mine = await serversOf(m, 0, owner);
        expect(mine.map((s) => s.id).sort()).toEqual(ids.map(serverIdFor).sort());
        await untilNoLeaks(m, 0);
        await cleanUp(m, 0, mine);
      },
      testTimeout,
    );
  }
});
