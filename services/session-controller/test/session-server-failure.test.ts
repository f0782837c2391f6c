/**
 * Sessions end when their server ends, over the whole chain with real processes (issue 15, item 3):
 * one session-controller in front of server-manager and an xrdp-integration node running real
 * xrdp (Redis, FerretDB), through the generated clients over gRPC. The session's xrdp is killed
 * until its instance is FAILED (crash loop): a restart in between leaves the session READY; the
 * server goes FAILED and so does the session, SERVER_FAILED, audited. Then SIGTERM stops the node
 * (and with it its xrdp processes) and it starts again: the server is FAILED and the session too.
 *
 * Helpers follow session-lifecycle.test.ts (copied, minimal). Nothing is asserted about how long anything took
 * beyond the convergence deadline.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import {
  InstanceState,
  ResourceType,
  ServerState,
  type Session,
  type SessionControllerService,
  SessionReusePolicy,
  SessionState,
  SessionStateReason,
} from "@lucid-rdp/gen";
import { type Mesh, meshFixture, meshWaitFor, type SkipContext } from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";

/** The longest any test waits for the mesh to converge. */
const convergeMs = 60_000;
const testTimeout = 180_000;
const meshTimeout = 180_000;

const fixture = meshFixture(
  {
    serverManagers: 1,
    xrdpNodes: 1,
    sessionController: 1,
    env: {
      // Three exits make a crash loop; restarts come quickly.
      XRDP_CRASH_LOOP_EXITS: "3",
      XRDP_RESTART_BACKOFF_MS: "100",
      SERVER_MANAGER_REAPER_INTERVAL_MS: "500",
      SESSION_TIMER_INTERVAL_MS: "200",
    },
  },
  { startMs: meshTimeout },
);
const need = (ctx: SkipContext): Mesh => fixture.need(ctx);

const sc = (m: Mesh): Client<typeof SessionControllerService> =>
  m.sessionController(0, { timeoutMs: 60_000 });

function show(s: Session | undefined): string {
  if (s === undefined) return "(no session)";
  return `${s.id} ${SessionState[s.state]} ${SessionStateReason[s.stateReason]} ${s.connectInfo?.endpoint?.host}:${s.connectInfo?.endpoint?.port} ${s.stateMessage}`;
}

/** A new READY session of `user`, with its server id. */
async function createReady(m: Mesh, user: string): Promise<Session & { serverId: string }> {
  const { session } = await sc(m).createSession({
    requestId: randomUUID(),
    user,
    waitTimeout: { seconds: 30n },
    policy: { reuse: SessionReusePolicy.NEVER },
  });
  expect(session?.state, show(session)).toBe(SessionState.READY);
  expect(session?.serverId).not.toBe("");
  return session as Session & { serverId: string };
}

/** Waits until the session is FAILED with `reason`, then checks its audit entry. */
async function untilEndedBy(m: Mesh, s: Session, reason: SessionStateReason): Promise<Session> {
  let last: Session | undefined;
  const ended = await meshWaitFor(
    m,
    `session ${s.id} FAILED ${SessionStateReason[reason]}`,
    async () => {
      last = (await sc(m).getSession({ sessionId: s.id })).session;
      return last?.state === SessionState.FAILED ? last : undefined;
    },
    { timeoutMs: convergeMs, detail: () => show(last) },
  );
  expect(SessionStateReason[ended.stateReason], show(ended)).toBe(SessionStateReason[reason]);
  expect(ended.connectInfo?.endpoint?.port).toBe(s.connectInfo?.endpoint?.port);
  // The audit record is written right after the state (the repository's outbox delivers it), so
  // a reader may see FAILED a moment before its audit entry: wait for the entry, then check it.
  const audit = await meshWaitFor(
    m,
    `audit entry session.failed of ${s.id}`,
    async () => {
      const page = await sc(m).listAuditEvents({
        resourceType: ResourceType.SESSION,
        resourceId: s.id,
        action: "session.failed",
      });
      return page.auditEvents.length > 0 ? page : undefined;
    },
    { timeoutMs: convergeMs },
  );
  expect(audit.auditEvents).toHaveLength(1);
  expect(audit.auditEvents[0]?.details).toMatchObject({
    reason: SessionStateReason[reason],
    server: s.serverId,
  });
  return ended;
}

describe("session-controller with a failing server (real processes)", () => {
  it(
    "keeps the session READY through one xrdp restart, and fails it SERVER_FAILED once a crash loop fails its instance and server",
    async (ctx) => {
      const m = need(ctx);
      const s = await createReady(m, "crash-loop");
      const server = (await m.serverManager(0).getServer({ serverId: s.serverId })).server;
      const instanceId = server?.instanceId ?? "";
      const instance = async () =>
        (await m.xrdp(0).getInstance({ instanceId })).instance ?? undefined;
      const first = (await instance())?.pid ?? 0;
      expect(first).toBeGreaterThan(0);

      // One crash: xrdp-integration restarts it (RESTARTING, then READY with a new pid).
      process.kill(first, "SIGKILL");
      await meshWaitFor(m, "the instance restarted", async () => {
        const i = await instance();
        return i?.state === InstanceState.READY && i.pid !== 0 && i.pid !== first ? i : undefined;
      });
      expect((await sc(m).getSession({ sessionId: s.id })).session?.state).toBe(SessionState.READY);

      // Crash it until the instance gives up: FAILED (crash loop).
      const killed = new Set([first]);
      await meshWaitFor(m, "the instance FAILED", async () => {
        const i = await instance();
        if (i?.state === InstanceState.FAILED) return i;
        if (i && i.pid !== 0 && !killed.has(i.pid)) {
          killed.add(i.pid);
          try {
            process.kill(i.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        return undefined;
      });
      await meshWaitFor(m, "the server FAILED", async () => {
        const sv = (await m.serverManager(0).getServer({ serverId: s.serverId })).server;
        return sv?.state === ServerState.FAILED ? sv : undefined;
      });
      await untilEndedBy(m, s, SessionStateReason.SERVER_FAILED);
    },
    testTimeout,
  );

  it(
    "fails the session SERVER_FAILED when SIGTERM stopped the node's xrdp and the node came back",
    async (ctx) => {
      const m = need(ctx);
      const s = await createReady(m, "node-restart");
      const node = m.nodes[0];
      if (node === undefined) throw new Error("no node");
      node.server.kill("SIGTERM");
      await node.server.exited;
      await m.restartNode(0);
      await meshWaitFor(m, "the server FAILED", async () => {
        const sv = (await m.serverManager(0).getServer({ serverId: s.serverId })).server;
        return sv?.state === ServerState.FAILED ? sv : undefined;
      });
      await untilEndedBy(m, s, SessionStateReason.SERVER_FAILED);
    },
    testTimeout,
  );
});
