/**
 * Embedded state survives a restart of the whole mesh (issue 19), with real processes: one
 * server-manager, one session-controller, one xrdp-integration node on real xrdp and its
 * resource-monitor, without
 * MongoDB or Redis: records in SQLite files under a DATA_DIR of this test, coordination (leases,
 * locks, counters, the event bus) in each process, as `npm start` runs them. The node keeps its
 * desktops across its own restart (XRDP_STOP_ON_SHUTDOWN=false).
 *
 * Each case makes sessions (READY ones and a terminated one), stops every service (SIGTERM, then
 * SIGKILL in the second case: a kill in the middle of whatever they were writing) and starts them
 * again on the same files: ListSessions and GetSession answer the same sessions in the same
 * states, the READY sessions' instances are adopted by the new node process (same xrdp pid, still
 * READY), a new session can be created and TerminateSession ends a session made before the
 * restart, and the timers, read from the file by the new leader, still end a session made before
 * the restart (the controller's clock is moved past the deadline: SESSION_TEST_CLOCK_FILE).
 * Nothing is asserted about how long anything took beyond the convergence deadlines.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  AlertMetric,
  Comparison,
  InstanceState,
  NodeHealth,
  type Session,
  type SessionControllerService,
  SessionReusePolicy,
  SessionState,
  Severity,
} from "@lucid-rdp/gen";
import {
  type Mesh,
  meshFixture,
  meshWaitFor,
  type SkipContext,
  TestClock,
} from "@lucid-rdp/testing";
import { afterAll, describe, expect, it } from "vitest";

/** The longest any step waits for the mesh to converge. */
const convergeMs = 60_000;
const testTimeout = 300_000;

const dataDir = mkdtempSync(join(tmpdir(), "lucid-embedded-restart-"));
const clock = new TestClock({ prefix: "lucid-embedded-clock-" });
const fixture = meshFixture(
  {
    serverManagers: 1,
    xrdpNodes: 1,
    sessionController: 1,
    resourceMonitor: true,
    embedded: { dataDir },
    env: {
      XRDP_STOP_ON_SHUTDOWN: "false",
      SESSION_TEST_CLOCK_FILE: clock.file,
      SESSION_MAX_PER_USER: "2",
      SESSION_TIMER_INTERVAL_MS: "200",
      SERVER_MANAGER_REAPER_INTERVAL_MS: "1000",
    },
  },
  { startMs: 180_000 },
);
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  clock.remove();
});
const need = (ctx: SkipContext): Mesh => fixture.need(ctx);

const sc = (m: Mesh): Client<typeof SessionControllerService> =>
  m.sessionController(0, { timeoutMs: 60_000 });

function show(s: Session | undefined): string {
  return s === undefined ? "(no session)" : `${s.id} ${SessionState[s.state]} ${s.stateMessage}`;
}

/** A new READY session of `user`. */
async function createReady(m: Mesh, user: string): Promise<Session> {
  const { session } = await sc(m).createSession({
    requestId: randomUUID(),
    user,
    waitTimeout: { seconds: 30n },
    policy: { reuse: SessionReusePolicy.NEVER },
  });
  expect(session?.state, show(session)).toBe(SessionState.READY);
  return session as Session;
}

/** Terminates a session and waits until it is TERMINATED. */
async function terminate(m: Mesh, id: string): Promise<void> {
  await sc(m).terminateSession({ sessionId: id, reason: "embedded restart test" });
  await untilTerminated(m, id);
}

/** A session's deadlines as comparable text. */
function deadlinesOf(s: Session | undefined): string[] {
  return (s?.deadlines ?? []).map(
    (d) => `${d.timer}@${d.deadlineTime ? timestampDate(d.deadlineTime).getTime() : "?"}`,
  );
}

/** When the soonest deadline of a session falls. */
function soonest(s: Session | undefined): number {
  const times = (s?.deadlines ?? []).map((d) =>
    d.deadlineTime ? timestampDate(d.deadlineTime).getTime() : Number.POSITIVE_INFINITY,
  );
  const first = Math.min(...times);
  expect(Number.isFinite(first), `a deadline armed: ${show(s)}`).toBe(true);
  return first;
}

/** Waits until the session is TERMINATED. */
async function untilTerminated(m: Mesh, id: string): Promise<void> {
  let last: Session | undefined;
  await meshWaitFor(
    m,
    `session ${id} TERMINATED`,
    async () => {
      last = (await sc(m).getSession({ sessionId: id })).session;
      return last?.state === SessionState.TERMINATED ? last : undefined;
    },
    { timeoutMs: convergeMs, detail: () => show(last) },
  );
}

/** Every session, by id: its state. */
async function allSessions(m: Mesh): Promise<Map<string, SessionState>> {
  const out = new Map<string, SessionState>();
  let pageToken = "";
  do {
    const page = await sc(m).listSessions({ pageSize: 1000, pageToken });
    for (const s of page.sessions) out.set(s.id, s.state);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

/** The session's instance: id, state and xrdp pid, through server-manager and the node. */
async function instanceOf(m: Mesh, s: Session) {
  const server = (await m.serverManager(0).getServer({ serverId: s.serverId })).server;
  const instanceId = server?.instanceId ?? "";
  const instance = (await m.xrdp(0).getInstance({ instanceId })).instance;
  return { instanceId, state: instance?.state, pid: instance?.pid ?? 0 };
}

/** Stops every service with `signal`, then starts each again on the same files and ports. */
async function restartAll(m: Mesh, signal: NodeJS.Signals): Promise<void> {
  const stopped = await Promise.all([
    m.stopService("sessionController", 0, signal),
    m.stopService("node", 0, signal),
    m.stopService("serverManager", 0, signal),
    m.stopService("resourceMonitor", 0, signal),
  ]);
  // A SIGTERM that the service answered in time ends it cleanly (its file closed); one that took
  // longer than the mesh's grace (a loaded machine) was SIGKILLed, which the other case covers.
  if (signal === "SIGTERM") {
    for (const s of stopped) if (!s.forced) expect(s.exit, "exit after SIGTERM").toBe("code 0");
  }
  for (const name of [
    "server-manager",
    "session-controller",
    "xrdp-integration",
    "resource-monitor",
  ]) {
    expect(existsSync(join(dataDir, `${name}.sqlite`)), name).toBe(true);
  }
  await m.restartServerManager(0);
  await m.restartSessionController(0);
  await m.restartNode(0);
  await m.restartResourceMonitor(0);
  let health = "";
  await meshWaitFor(
    m,
    "node-1 HEALTHY after the restart",
    async () => {
      const { nodes } = await m.serverManager(0).listNodes({});
      health = nodes.map((n) => `${n.id}=${NodeHealth[n.health]}`).join(", ");
      return nodes.find((n) => n.id === "node-1")?.health === NodeHealth.HEALTHY ? true : undefined;
    },
    { timeoutMs: convergeMs, detail: () => health },
  );
}

describe("embedded state across a restart of every service (real processes)", () => {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(
      `keeps every session and its state, adopts the desktops, creates and terminates after ${signal}`,
      async (ctx) => {
        const m = need(ctx);
        const tag = signal.toLowerCase();
        const kept = await createReady(m, `kept-${tag}`);
        const other = await createReady(m, `other-${tag}`);
        const ended = await createReady(m, `ended-${tag}`);
        // A user at the cap (2) before the restart...
        const second = await createReady(m, `kept-${tag}`);
        await terminate(m, ended.id);
        const before = await allSessions(m);
        expect(before.get(kept.id)).toBe(SessionState.READY);
        expect(before.get(ended.id)).toBe(SessionState.TERMINATED);
        const otherBefore = (await sc(m).getSession({ sessionId: other.id })).session;
        const rule = (
          await m.resourceMonitor(0).createAlertRule({
            requestId: randomUUID(),
            alertRule: {
              displayName: `never fires (${tag})`,
              metric: AlertMetric.HOST_LOAD5,
              comparison: Comparison.GREATER_THAN_OR_EQUAL,
              threshold: 1_000_000,
              severity: Severity.WARNING,
            },
          })
        ).alertRule;
        const desktop = await instanceOf(m, kept);
        expect(desktop.state).toBe(InstanceState.READY);
        expect(desktop.pid).toBeGreaterThan(0);

        await restartAll(m, signal);

        // The same sessions in the same states, listed and one by one.
        expect(await allSessions(m)).toEqual(before);
        for (const [id, state] of before) {
          const { session } = await sc(m).getSession({ sessionId: id });
          expect(session?.state, show(session)).toBe(state);
        }
        // The desktop was adopted, not restarted, and its session stays READY.
        const adopted = await instanceOf(m, kept);
        expect(adopted).toEqual(desktop);
        for (const s of [kept, other]) {
          const { session } = await sc(m).getSession({ sessionId: s.id });
          expect(session?.state, show(session)).toBe(SessionState.READY);
          expect(session?.serverId).toBe(s.serverId);
        }
        const otherAfter = (await sc(m).getSession({ sessionId: other.id })).session;
        const ruleAfter = (await m.resourceMonitor(0).getAlertRule({ alertRuleId: rule?.id }))
          .alertRule;
        expect(ruleAfter?.displayName).toBe(rule?.displayName);
        expect(ruleAfter?.threshold).toBe(rule?.threshold);
        expect(deadlinesOf(otherAfter)).toEqual(deadlinesOf(otherBefore));

        // ...is still at it after (the in-process counters are counted again from the file).
        const refused = await sc(m)
          .createSession({
            requestId: randomUUID(),
            user: `kept-${tag}`,
            policy: { reuse: SessionReusePolicy.NEVER },
          })
          .then(
            () => undefined,
            (e: unknown) => ConnectError.from(e),
          );
        expect(refused?.code, String(refused)).toBe(Code.ResourceExhausted);
        await terminate(m, second.id);

        // Business goes on: a new session, and the end of one made before the restart.
        const fresh = await createReady(m, `fresh-${tag}`);
        expect(before.has(fresh.id)).toBe(false);
        await terminate(m, kept.id);
        // The timers still act on a session made before the restart (and on the new one).
        const freshNow = (await sc(m).getSession({ sessionId: fresh.id })).session;
        clock.advancePast(Math.max(soonest(otherAfter), soonest(freshNow)));
        await untilTerminated(m, other.id);
        await untilTerminated(m, fresh.id);
      },
      testTimeout,
    );
  }
});
