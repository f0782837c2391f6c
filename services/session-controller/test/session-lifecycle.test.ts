/**
 * session-controller over the whole chain, real processes (issue 6, "Tests — the whole chain, real
 * processes"): two session-controller replicas sharing Redis and the "sc" database, in front of
 * server-manager and an xrdp-integration node running real xrdp with an xrdp-sesman per instance
 * (XRDP_SESMAN=managed, X displays 100-199), called through the generated clients over gRPC. A
 * session's endpoint answers the RDP probe and serves its .rdp file; a raw TCP connection held open
 * and a refused login (audited) leave it READY, the owner's desktop login with a real RDP client
 * (xfreerdp) turns it ACTIVE and closing that client DISCONNECTED; a second create of the same user
 * gets the same session; TerminateSession leaves no xrdp and no desktop; every timer warns, then
 * acts; WatchSessions resumed from a cursor misses and repeats nothing; a controller killed with
 * SIGKILL and started again keeps every session and timer; and, on a mesh of their own, the caps
 * hold across both replicas under concurrent creates.
 *
 * Logins: sessions that a client logs in to are for the test account lucidalice (a local account
 * made by .ci/test-accounts.sh; the instance admits only its owner), each with a desktop of its own
 * on its instance's block of displays. xfreerdp runs under one Xvfb for the file, on display 94.
 * Users that never log in only need a name xrdp-integration takes as an owner.
 *
 * Time: the controllers read their clock from SESSION_TEST_CLOCK_FILE (real time plus the offset
 * in milliseconds written there). A test never sleeps for a timer: it moves the clock past a
 * timer's warning or deadline, as read from the session's `deadlines`, then polls for the effect
 * with a deadline. Nothing is asserted about how long anything took.
 *
 * The tests of a describe share its mesh and run in order; the first four follow one session.
 * Run alone (vitest -t), each makes what it needs.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  type CreateSessionRequestSchema,
  type CreateSessionResponse,
  ResourceType,
  ServerState,
  type Session,
  type SessionControllerService,
  SessionEventType,
  type SessionPolicySchema,
  SessionReusePolicy,
  SessionState,
  SessionStateReason,
  SessionTimer,
  type WatchSessionsRequestSchema,
  type WatchSessionsResponse,
} from "@lucid-rdp/gen";
import { readTcpConnections } from "@lucid-rdp/proc";
import {
  findAccount,
  type Mesh,
  type MeshFixture,
  type MeshWaitForOptions,
  meshFixture,
  type RdpClient,
  rdpConnect,
  rdpTools,
  StreamRecorder,
  startXvfb,
  TestClock,
  testAccounts,
  meshWaitFor as waitForInMesh,
} from "@lucid-rdp/testing";
import { desktopProcesses, probeUntilReady } from "@lucid-rdp/xrdp-integration";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** How long before a timer acts its warning is sent (SESSION_WARN_BEFORE_MS). */
const warnBeforeMs = 60_000;
/** Env of every service of both meshes. */
const baseEnv = {
  XRDP_MAX_INSTANCES: "16",
  SESSION_TIMER_INTERVAL_MS: "200",
  SESSION_WARN_BEFORE_MS: String(warnBeforeMs),
  SESSION_CONNECTION_POLL_MS: "1000",
};
/** The longest any test waits for the mesh to converge. */
const convergeMs = 60_000;
/** After a replica was killed, its leader lease may have to lapse before a timer acts. */
const takeoverMs = 120_000;
const testTimeout = 240_000;
const meshTimeout = 180_000;
/**
 * The X displays of the node's desktops: clear of xrdp-integration's desktop tests (40-89, 93),
 * which may run at the same time. Two blocks of 11 (10 sessions each) per live session's instance.
 */
const desktopDisplays = { first: 100, last: 199 };
/** The Xvfb the RDP clients of this file draw on. */
const clientDisplay = 94;

// --- real RDP clients --------------------------------------------------------------------------

/** The account sessions that a client logs in to are for, and the one refused. */
const alice = testAccounts.alice;
const bob = testAccounts.bob;
/** What the desktop logins need, present: the RDP client, its X server and the test accounts. */
const loginsPossible =
  rdpTools.xfreerdp !== undefined &&
  rdpTools.xvfb !== undefined &&
  findAccount(alice.name) !== undefined &&
  findAccount(bob.name) !== undefined;
let stopXvfb: (() => void) | undefined;

/** The pid in the X lock file of `display`, if it names a live process. */
function xServerPid(display: number): number | undefined {
  let pid = Number.NaN;
  try {
    pid = Number(readFileSync(`/tmp/.X${display}-lock`, "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Removes the lock and socket an X server killed with SIGKILL left on `display` (startXvfb would
 * otherwise take the old socket for the new server's); throws when a live one holds the display.
 */
function clearXDisplay(display: number): void {
  const holder = xServerPid(display);
  if (holder !== undefined) {
    throw new Error(`X display :${display} is in use by pid ${holder}: pick another clientDisplay`);
  }
  rmSync(`/tmp/.X${display}-lock`, { force: true });
  rmSync(`/tmp/.X11-unix/X${display}`, { force: true });
}

beforeAll(async () => {
  if (!loginsPossible) return;
  clearXDisplay(clientDisplay);
  stopXvfb = await startXvfb(clientDisplay);
}, 30_000);
afterAll(async () => {
  if (stopXvfb === undefined) return;
  stopXvfb();
  const deadline = Date.now() + 10_000;
  while (xServerPid(clientDisplay) !== undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  clearXDisplay(clientDisplay);
}, 30_000);

/** Skips a test that logs in when xfreerdp, Xvfb or the accounts are missing (CI fails at import). */
function needLogins(ctx: { skip: (note?: string) => void; task: { name: string } }): void {
  if (loginsPossible) return;
  process.stderr.write(
    `\n!!! SKIPPED "${ctx.task.name}": xfreerdp (apt-get install -y freerdp2-x11), Xvfb (apt-get install -y xvfb) or the test accounts (bash .ci/test-accounts.sh) missing\n\n`,
  );
  ctx.skip();
}

// --- meshes ------------------------------------------------------------------------------------

/** A mesh of 1 server-manager, 1 xrdp node and 2 session-controllers for a describe's tests. */
function lifecycleMesh(env: Record<string, string>): MeshFixture {
  return meshFixture(
    {
      serverManagers: 1,
      xrdpNodes: 1,
      sessionController: 2,
      desktops: { displays: desktopDisplays },
      env: { ...baseEnv, ...env },
    },
    { startMs: meshTimeout },
    {
      started: (mesh) => {
        if (mesh.sessionControllers.length !== 2) {
          throw new Error(
            "the mesh started no session-controller: services/session-controller/src/main.ts does not exist",
          );
        }
      },
      closing: releaseAll,
    },
  );
}

// --- helpers ---------------------------------------------------------------------------------

/** A session-controller client whose calls may wait out a 30 s `wait_timeout`. */
const sc = (m: Mesh, replica = 0): Client<typeof SessionControllerService> =>
  m.sessionController(replica, { timeoutMs: 60_000 });

type CreateInit = MessageInitShape<typeof CreateSessionRequestSchema>;
type PolicyInit = MessageInitShape<typeof SessionPolicySchema>;
type WatchInit = MessageInitShape<typeof WatchSessionsRequestSchema>;

/** A create for `user` with a fresh request_id that waits up to 30 s for READY. */
function createRequest(user: string, fields: { policy?: PolicyInit } = {}): CreateInit {
  return { requestId: randomUUID(), user, waitTimeout: { seconds: 30n }, ...fields };
}

/** Timer lengths in seconds, as the fields of SessionPolicy. */
type TimerLengths = {
  connectDeadline: number;
  idleTimeout: number;
  disconnectedLimit: number;
  maxDuration: number;
  keepaliveTimeout: number;
};

/**
 * Long timers, inside the default override bounds (connect 10 s..1 h, idle 1 min..24 h,
 * disconnected 1 min..7 d, maximum duration 5 min..7 d, keepalive 30 s..24 h), so that only the
 * timer a test shortens can fire while it moves the clock.
 */
const longTimers: TimerLengths = {
  connectDeadline: 3_000,
  idleTimeout: 80_000,
  disconnectedLimit: 80_000,
  maxDuration: 600_000,
  keepaliveTimeout: 80_000,
};

/** A policy of long timers but for `short`, with the given reuse policy. */
function policyWith(
  short: Partial<TimerLengths>,
  reuse = SessionReusePolicy.UNSPECIFIED,
): PolicyInit {
  const lengths = { ...longTimers, ...short };
  const d = (seconds: number) => ({ seconds: BigInt(seconds) });
  return {
    connectDeadline: d(lengths.connectDeadline),
    idleTimeout: d(lengths.idleTimeout),
    disconnectedLimit: d(lengths.disconnectedLimit),
    maxDuration: d(lengths.maxDuration),
    keepaliveTimeout: d(lengths.keepaliveTimeout),
    reuse,
  };
}

async function errorOf(p: Promise<unknown>): Promise<ConnectError | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return ConnectError.from(e);
  }
}

function ms(t: Timestamp | undefined): number | undefined {
  return t === undefined ? undefined : timestampDate(t).getTime();
}

function show(s: Session | undefined): string {
  if (s === undefined) return "(no session)";
  const deadlines = s.deadlines
    .map(
      (d) =>
        `${SessionTimer[d.timer]}@${d.deadlineTime ? timestampDate(d.deadlineTime).toISOString() : "?"}`,
    )
    .join(",");
  return `${s.id} ${s.user} ${SessionState[s.state]} ${SessionStateReason[s.stateReason]} conns=${s.connectionCount} ${s.connectInfo?.endpoint?.host}:${s.connectInfo?.endpoint?.port} [${deadlines}] ${s.stateMessage}`;
}

function showEvent(e: WatchSessionsResponse): string {
  const what =
    e.type === SessionEventType.TIMER_WARNING
      ? ` ${SessionTimer[e.timer]}`
      : e.type === SessionEventType.STATE_CHANGED
        ? ` ${SessionState[e.previousState]}->`
        : "";
  return `${e.eventId} ${SessionEventType[e.type]}${what} ${show(e.session)}`;
}

/** Thrown inside a waitFor probe to fail at once instead of polling on. */
class Fatal extends Error {}

/** {@link meshWaitFor} of @lucid-rdp/testing, where a {@link Fatal} thrown by the probe fails it at once. */
function meshWaitFor<T>(
  m: Mesh,
  what: string,
  probe: () => Promise<T | undefined>,
  opts: Omit<MeshWaitForOptions, "retry"> = {},
): Promise<T> {
  return waitForInMesh(m, what, probe, {
    timeoutMs: convergeMs,
    ...opts,
    retry: (e) => !(e instanceof Fatal),
  });
}

/** Polls GetSession on `replica` until `accept` holds; returns the session. */
function untilSession(
  m: Mesh,
  sessionId: string,
  what: string,
  accept: (s: Session) => boolean,
  opts: { replica?: number; timeoutMs?: number } = {},
): Promise<Session> {
  let last: Session | undefined;
  return meshWaitFor(
    m,
    `session ${sessionId} ${what}`,
    async () => {
      last = (await sc(m, opts.replica ?? 0).getSession({ sessionId })).session;
      return last !== undefined && accept(last) ? last : undefined;
    },
    { timeoutMs: opts.timeoutMs, detail: () => show(last) },
  );
}

function untilState(
  m: Mesh,
  sessionId: string,
  state: SessionState,
  opts: { replica?: number; timeoutMs?: number } = {},
): Promise<Session> {
  return untilSession(m, sessionId, SessionState[state], (s) => s.state === state, opts);
}

/** Creates a session through `replica` and expects it READY with connect info. */
async function createReady(
  m: Mesh,
  user: string,
  fields: { policy?: PolicyInit } = {},
  replica = 0,
): Promise<Session> {
  const { session, reused } = await sc(m, replica).createSession(createRequest(user, fields));
  expect(session?.state, show(session)).toBe(SessionState.READY);
  expect(reused).toBe(false);
  expect(session?.connectInfo?.endpoint?.port, show(session)).toBeGreaterThan(0);
  withSessions.add(m);
  return session as Session;
}

/** Meshes a session was created in: from then on, ListSessions has a cursor to give. */
const withSessions = new WeakSet<Mesh>();

/** Where WatchSessions of `user` starts: ListSessions' `last_event_id`. */
async function startCursor(m: Mesh, user: string, replica = 0): Promise<string> {
  const { lastEventId } = await sc(m, replica).listSessions({ user, pageSize: 1 });
  if (withSessions.has(m)) {
    expect(lastEventId, "ListSessions last_event_id after earlier events").not.toBe("");
  }
  return lastEventId;
}

/** Raw TCP connections still open, closed by afterAll if a test failed before closing them. */
const heldSockets = new Set<Socket>();
/** RDP clients still running, closed by afterAll if a test failed before closing them. */
const heldClients = new Set<RdpClient>();

/** Opens a raw TCP connection (no RDP spoken) and holds it; resolves once it is established. */
function holdConnection(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => undefined); // a reset by a stopped xrdp is expected
      heldSockets.add(socket);
      resolve(socket);
    });
  });
}

/** Closes a held connection; resolves once the socket is closed. */
function release(socket: Socket): Promise<void> {
  heldSockets.delete(socket);
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.destroy();
  });
}

/** Starts xfreerdp to the session's endpoint, logging in as `account` (on the file's Xvfb). */
function rdpLogin(session: Session, account: { name: string; password: string }): RdpClient {
  const client = rdpConnect({
    port: session.connectInfo?.endpoint?.port ?? 0,
    user: account.name,
    password: account.password,
    xDisplay: clientDisplay,
  });
  heldClients.add(client);
  return client;
}

/** Kills the client (as a user closing it); resolves once it has exited. */
async function closeClient(client: RdpClient): Promise<void> {
  heldClients.delete(client);
  client.close();
  await client.exited;
}

/** Closes every held client and raw connection. */
async function releaseAll(): Promise<void> {
  await Promise.all([...heldClients].map(closeClient));
  await Promise.all([...heldSockets].map(release));
}

function exited(client: RdpClient): boolean {
  return client.process.exitCode !== null || client.process.signalCode !== null;
}

function tail(client: RdpClient): string {
  return `xfreerdp: ${client.output().slice(-2_000)}`;
}

/** The local ports of the ESTABLISHED TCP connections of process `pid` to `port`, from /proc. */
async function localPortsOf(pid: number, port: number): Promise<number[]> {
  const inodes = new Set<number>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // gone
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return (await readTcpConnections())
    .filter((c) => c.state === "ESTABLISHED" && c.remotePort === port && inodes.has(c.inode))
    .map((c) => c.localPort);
}

/** The local ports of every ESTABLISHED client-side connection to `port` on this host. */
async function clientPortsTo(port: number): Promise<number[]> {
  return (await readTcpConnections())
    .filter((c) => c.state === "ESTABLISHED" && c.remotePort === port)
    .map((c) => c.localPort)
    .sort((a, b) => a - b);
}

/** Waits until the client holds a TCP connection to the session's endpoint; returns its port. */
function clientPort(m: Mesh, session: Session, client: RdpClient): Promise<number> {
  const port = session.connectInfo?.endpoint?.port ?? 0;
  return meshWaitFor(
    m,
    `xfreerdp's connection to port ${port}`,
    async () => {
      if (exited(client)) throw new Fatal(`xfreerdp exited before it connected\n${tail(client)}`);
      return (await localPortsOf(client.process.pid ?? 0, port))[0];
    },
    { detail: () => tail(client) },
  );
}

/** The password of a test account, for a session's user. */
function accountOf(user: string): { name: string; password: string } {
  const account = Object.values(testAccounts).find((a) => a.name === user);
  if (account === undefined) throw new Error(`${user} is not a test account: nobody can log in`);
  return account;
}

/**
 * Logs in to the session's desktop as its user with a real RDP client (xfreerdp), and waits until
 * the session is ACTIVE with the login counted and the node lists the client's connection for the
 * session's server. Returns the client, its local port and the ACTIVE session.
 */
async function connectClient(
  m: Mesh,
  session: Session,
): Promise<{ client: RdpClient; port: number; active: Session }> {
  const client = rdpLogin(session, accountOf(session.user));
  const port = await clientPort(m, session, client);
  let listed = "";
  const active = await meshWaitFor(
    m,
    `session ${session.id} ACTIVE with our desktop login from port ${port}`,
    async () => {
      if (exited(client)) throw new Fatal(`xfreerdp exited\n${tail(client)}`);
      const { connections } = await m.xrdp(0).listConnections({ serverId: session.serverId });
      listed = connections.map((c) => `${c.peer?.host}:${c.peer?.port}`).join(", ");
      if (!connections.some((c) => c.peer?.port === port)) return undefined;
      const s = (await sc(m, 0).getSession({ sessionId: session.id })).session;
      listed += ` | ${show(s)}`;
      return s?.state === SessionState.ACTIVE && s.connectionCount >= 1 ? s : undefined;
    },
    { detail: () => `${listed}\n${tail(client)}` },
  );
  return { client, port, active };
}

/** Closes the client and waits until the session is DISCONNECTED with no connection. */
async function disconnectClient(m: Mesh, session: Session, client: RdpClient): Promise<Session> {
  await closeClient(client);
  return untilSession(
    m,
    session.id,
    "DISCONNECTED with no connection",
    (s) => s.state === SessionState.DISCONNECTED && s.connectionCount === 0,
  );
}

/** The armed deadline of `timer` on a session, as dates. */
function deadlineOf(
  s: Session | undefined,
  timer: SessionTimer,
): { warning: Date; deadline: Date } | undefined {
  const d = s?.deadlines.find((x) => x.timer === timer);
  if (d?.warningTime === undefined || d.deadlineTime === undefined) return undefined;
  return { warning: timestampDate(d.warningTime), deadline: timestampDate(d.deadlineTime) };
}

/** Every session event matching a WatchSessions request, collected as they stream in. */
class Watch extends StreamRecorder<WatchSessionsResponse> {
  constructor(
    client: Client<typeof SessionControllerService>,
    readonly request: WatchInit,
  ) {
    super((opts) => client.watchSessions(request, opts));
  }

  /** Polls until an event matches; returns it. Fails at once if the stream failed or ended. */
  until(
    m: Mesh,
    what: string,
    match: (e: WatchSessionsResponse) => boolean,
    timeoutMs = convergeMs,
  ): Promise<WatchSessionsResponse> {
    return meshWaitFor(
      m,
      `WatchSessions event: ${what}`,
      async () => {
        const found = this.events.find(match);
        if (found !== undefined) return found;
        if (this.failure !== undefined)
          throw new Fatal(`the stream failed: ${String(this.failure)}`);
        if (this.ended) throw new Fatal("the stream ended");
        return undefined;
      },
      { timeoutMs, detail: () => this.show() },
    );
  }

  show(): string {
    return `\n  ${this.events.map(showEvent).join("\n  ")}`;
  }
}

/** Events of one session, up to and including the first that shows it TERMINATED. */
function throughTerminated(
  events: WatchSessionsResponse[],
  sessionId: string,
): WatchSessionsResponse[] {
  const mine = events.filter((e) => e.session?.id === sessionId);
  const end = mine.findIndex((e) => e.session?.state === SessionState.TERMINATED);
  return end < 0 ? mine : mine.slice(0, end + 1);
}

const isTerminated = (sessionId: string) => (e: WatchSessionsResponse) =>
  e.session?.id === sessionId && e.session.state === SessionState.TERMINATED;

/**
 * The session's events show exactly one TIMER_WARNING, for `timer`, before the first event that
 * shows it TERMINATING or TERMINATED, and that event names the timer's reason.
 */
function expectWarnedBeforeEnd(
  watch: Watch,
  sessionId: string,
  timer: SessionTimer,
  reason: SessionStateReason,
): void {
  const mine = throughTerminated(watch.events, sessionId);
  const warnings = mine.filter((e) => e.type === SessionEventType.TIMER_WARNING);
  expect(
    warnings.map((e) => SessionTimer[e.timer]),
    watch.show(),
  ).toEqual([SessionTimer[timer]]);
  const warned = mine.indexOf(warnings[0] as WatchSessionsResponse);
  const ending = mine.findIndex(
    (e) =>
      e.session?.state === SessionState.TERMINATING || e.session?.state === SessionState.TERMINATED,
  );
  expect(ending, watch.show()).toBeGreaterThan(warned);
  expect(SessionStateReason[mine[ending]?.session?.stateReason ?? 0], watch.show()).toBe(
    SessionStateReason[reason],
  );
}

/**
 * Moves the clock past the warning of `timer` and expects its TIMER_WARNING (for the session's
 * stored deadline, the session unchanged); then past the deadline and expects the session
 * TERMINATED with `reason`, the warning first.
 */
async function fireTimer(
  m: Mesh,
  clock: TestClock,
  watch: Watch,
  armed: Session,
  timer: SessionTimer,
  reason: SessionStateReason,
  opts: { timeoutMs?: number } = {},
): Promise<Session> {
  const at = deadlineOf(armed, timer);
  expect(at, show(armed)).toBeDefined();
  const { warning, deadline } = at as { warning: Date; deadline: Date };
  const name = SessionTimer[timer];

  clock.advancePast(warning);
  const warned = await watch.until(
    m,
    `TIMER_WARNING ${name} of ${armed.id}`,
    (e) =>
      e.session?.id === armed.id && e.type === SessionEventType.TIMER_WARNING && e.timer === timer,
    opts.timeoutMs,
  );
  expect(ms(warned.deadlineTime)).toBe(deadline.getTime());
  // A warning does not act: the session is as it was.
  expect(SessionState[warned.session?.state ?? 0], showEvent(warned)).toBe(
    SessionState[armed.state],
  );

  clock.advancePast(deadline);
  const ended = await untilState(m, armed.id, SessionState.TERMINATED, opts);
  expect(SessionStateReason[ended.stateReason], show(ended)).toBe(SessionStateReason[reason]);
  expect(ended.deadlines, show(ended)).toEqual([]);
  expect(ended.endTime).toBeDefined();
  await watch.until(m, `${armed.id} TERMINATED`, isTerminated(armed.id), opts.timeoutMs);
  expectWarnedBeforeEnd(watch, armed.id, timer, reason);
  return ended;
}

// --- tests -----------------------------------------------------------------------------------

describe("SessionController over the whole chain (2 replicas, server-manager, xrdp-integration on real xrdp, Redis, FerretDB)", () => {
  const clock = new TestClock({ prefix: "lucid-sc-clock-" });
  // Registered first, so it runs after the mesh's afterAll has stopped the controllers.
  afterAll(() => clock.remove());
  const fixture = lifecycleMesh({ SESSION_TEST_CLOCK_FILE: clock.file });

  /** The session tests 1 to 4 follow, created by the first (or by whichever runs first alone). */
  let chain: Session | undefined;
  /** Its user: the test account its owner logs in as. */
  const chainUser = alice.name;
  const chainSession = async (m: Mesh): Promise<Session> => {
    chain ??= await createReady(m, chainUser);
    return chain;
  };

  describe("createSession()", () => {
    it(
      "returns a READY session whose endpoint answers the RDP probe and whose .rdp file names it, also over HTTP",
      async (ctx) => {
        const m = fixture.need(ctx);
        const node = m.nodes[0]!;
        const session = await createReady(m, chainUser);
        chain = session;
        expect(session.user).toBe(chainUser);
        expect(session.serverId).not.toBe("");
        expect(session.nodeId).toBe(node.nodeId);
        const info = session.connectInfo;
        const host = info?.endpoint?.host ?? "";
        const port = info?.endpoint?.port ?? 0;
        expect(host).toBe(node.env.NODE_RDP_HOST);
        expect(port).toBeGreaterThanOrEqual(node.portRange.start);
        expect(port).toBeLessThanOrEqual(node.portRange.end);
        expect(info?.rdpFile).toContain(`full address:s:${host}:${port}`);
        expect(info?.rdpFilePath).toBe(`/sessions/${session.id}.rdp`);

        const probe = await probeUntilReady(host, port, {
          deadlineMs: 15_000,
          intervalMs: 200,
          attemptTimeoutMs: 5_000,
        });
        expect(probe.ok ? "ok" : probe.reason).toBe("ok");

        // Either replica serves the same .rdp file to a browser.
        for (const server of m.sessionControllers) {
          const res = await fetch(new URL(info?.rdpFilePath ?? "", server.url));
          const body = await res.text();
          expect(res.status, body).toBe(200);
          expect(res.headers.get("content-type")).toMatch(/^application\/x-rdp\b/);
          expect(body).toBe(info?.rdpFile);
        }
        // And either replica knows the session.
        const got = (await sc(m, 1).getSession({ sessionId: session.id })).session;
        expect(got?.connectInfo?.rdpFile).toBe(info?.rdpFile);
        expect(got?.serverId).toBe(session.serverId);
      },
      testTimeout,
    );
  });

  describe("connections", () => {
    it(
      "keeps the session READY through a raw TCP connection and a refused login (audited), turns it ACTIVE with the owner's desktop login over RDP, DISCONNECTED once that client closes",
      async (ctx) => {
        const m = fixture.need(ctx);
        needLogins(ctx);
        const session = await chainSession(m);
        const endpoint = session.connectInfo?.endpoint;
        const host = endpoint?.host ?? "";
        const port = endpoint?.port ?? 0;
        // Nobody has logged in yet (the probe of the first test is not a login).
        const before = await untilSession(
          m,
          session.id,
          "READY with no connection",
          (s) => s.state === SessionState.READY && s.connectionCount === 0,
        );
        try {
          // A raw TCP connection, held open: no RDP spoken, nobody logged in.
          const raw = await holdConnection(host, port);
          // bob with his own password: xrdp fixes the user to the owner, so this is the owner
          // with a wrong password. Refused, and audited with the client's address.
          const refused = rdpLogin(session, bob);
          const refusedPort = await clientPort(m, session, refused);
          const audit = await meshWaitFor(
            m,
            `a session.login_refused audit event of ${session.id}`,
            async () =>
              (
                await sc(m, 1).listAuditEvents({
                  resourceType: ResourceType.SESSION,
                  resourceId: session.id,
                  action: "session.login_refused",
                })
              ).auditEvents[0],
            { detail: () => tail(refused) },
          );
          expect(audit.details).toMatchObject({
            peer: `127.0.0.1:${refusedPort}`,
            server: session.serverId,
            user: chainUser,
            state: "READY",
          });
          // Neither made it ACTIVE: nothing counted, nothing listed.
          const stillReady = (await sc(m, 0).getSession({ sessionId: session.id })).session;
          expect(SessionState[stillReady?.state ?? 0], show(stillReady)).toBe("READY");
          expect(stillReady?.connectionCount, show(stillReady)).toBe(0);
          // No activity was recorded (the idle timer runs on), and nothing was announced. The
          // record's updateTime may move: the outbox relay rewrites a record once to drop the
          // events its writer delivered (packages/storage, Repository.relayOnce).
          expect(ms(stillReady?.lastActivityTime), show(stillReady)).toBe(
            ms(before.lastActivityTime),
          );
          expect(stillReady?.stateReason, show(stillReady)).toBe(before.stateReason);
          expect(
            (await m.xrdp(0).listConnections({ serverId: session.serverId })).connections,
          ).toEqual([]);

          // The owner logs in for real, while the raw connection is still held: ACTIVE, with
          // exactly the one login counted and listed.
          const { client, port: clientLocalPort, active } = await connectClient(m, session);
          expect(active.lastConnectTime).toBeDefined();
          expect(active.connectionCount, show(active)).toBe(1);
          expect(raw.closed, "the raw connection is still open").toBe(false);
          expect(await clientPortsTo(port)).toEqual(
            expect.arrayContaining([raw.localPort, clientLocalPort]),
          );
          const listed = (await m.xrdp(0).listConnections({ serverId: session.serverId }))
            .connections;
          expect(listed.map((c) => `${c.peer?.host}:${c.peer?.port}`)).toEqual([
            `127.0.0.1:${clientLocalPort}`,
          ]);
          expect(listed.map((c) => c.peer?.port)).not.toContain(refusedPort);
          // The login is on a desktop of the instance's own block of displays.
          const server = (await m.serverManager(0).getServer({ serverId: session.serverId }))
            .server;
          const instance = (await m.xrdp(0).getInstance({ instanceId: server?.instanceId ?? "" }))
            .instance;
          expect(instance?.activeDisplays.length, String(instance?.activeDisplays)).toBe(1);
          const display = instance?.activeDisplays[0] ?? 0;
          expect(display).toBeGreaterThanOrEqual(instance?.displayFirst ?? 1);
          expect(display).toBeLessThan(
            (instance?.displayFirst ?? 0) + (instance?.displayCount ?? 0),
          );
          // Both replicas see it.
          await untilState(m, session.id, SessionState.ACTIVE, { replica: 1 });

          const disconnected = await disconnectClient(m, session, client);
          expect(disconnected.lastDisconnectTime).toBeDefined();
          expect(ms(disconnected.lastDisconnectTime)).toBeGreaterThanOrEqual(
            ms(active.lastConnectTime) ?? 0,
          );
          expect(
            (await m.xrdp(0).listConnections({ serverId: session.serverId })).connections.filter(
              (c) => c.peer?.port === clientLocalPort,
            ),
          ).toEqual([]);
          await untilState(m, session.id, SessionState.DISCONNECTED, { replica: 1 });
        } finally {
          await releaseAll();
        }
      },
      testTimeout,
    );
  });

  describe("createSession() again", () => {
    it(
      "hands the user's live session back (reused) to a second create with a new request_id, on either replica",
      async (ctx) => {
        const m = fixture.need(ctx);
        const session = await chainSession(m);
        const before = m.xrdpProcesses().length;
        const responses: CreateSessionResponse[] = [];
        for (const replica of [0, 1]) {
          responses.push(await sc(m, replica).createSession(createRequest(chainUser)));
        }
        for (const r of responses) {
          expect(r.session?.id, show(r.session)).toBe(session.id);
          expect(r.reused).toBe(true);
          expect(r.session?.connectInfo?.endpoint?.port).toBe(session.connectInfo?.endpoint?.port);
        }
        // No second server.
        expect(m.xrdpProcesses().length).toBe(before);
        const { sessions } = await sc(m, 1).listSessions({ user: chainUser });
        expect(
          sessions.filter((s) => s.state !== SessionState.TERMINATED).map((s) => s.id),
        ).toEqual([session.id]);
      },
      testTimeout,
    );
  });

  describe("terminateSession()", () => {
    it(
      "moves the session to TERMINATING, then TERMINATED, and leaves no xrdp process and no desktop for it",
      async (ctx) => {
        const m = fixture.need(ctx);
        const session = await chainSession(m);
        const server = (await m.serverManager(0).getServer({ serverId: session.serverId })).server;
        const instance = (await m.xrdp(0).getInstance({ instanceId: server?.instanceId ?? "" }))
          .instance;
        const pid = instance?.pid ?? 0;
        expect(m.xrdpProcesses().map((p) => p.pid)).toContain(pid);
        // Its desktops' displays (the owner's desktop, still there after the disconnect, when the
        // connection test ran before).
        const displays = { first: instance?.displayFirst ?? 0, count: instance?.displayCount ?? 0 };
        expect(displays.count, "the instance's block of displays").toBeGreaterThan(0);
        const cursor = await startCursor(m, chainUser);
        const watch = new Watch(sc(m, 1), { sessionId: session.id, afterEventId: cursor });
        try {
          const { session: terminating } = await sc(m, 1).terminateSession({
            sessionId: session.id,
            reason: "chain test",
          });
          expect(SessionState[terminating?.state ?? 0], show(terminating)).toBe("TERMINATING");
          expect(terminating?.stateReason).toBe(SessionStateReason.TERMINATE_REQUESTED);

          const ended = await untilState(m, session.id, SessionState.TERMINATED);
          expect(ended.stateReason).toBe(SessionStateReason.TERMINATE_REQUESTED);
          expect(ended.deadlines).toEqual([]);
          expect(ended.endTime).toBeDefined();
          await watch.until(m, `${session.id} TERMINATED`, isTerminated(session.id));
          const states = throughTerminated(watch.events, session.id)
            .filter((e) => e.type === SessionEventType.STATE_CHANGED)
            .map((e) => SessionState[e.session?.state ?? 0]);
          expect(states, watch.show()).toEqual(["TERMINATING", "TERMINATED"]);
        } finally {
          await watch.stop();
        }

        const gone = (await m.serverManager(0).getServer({ serverId: session.serverId })).server;
        expect(ServerState[gone?.state ?? 0]).toBe("STOPPED");
        expect(m.xrdpProcesses().map((p) => p.pid)).not.toContain(pid);
        expect(
          desktopProcesses(displays).map((p) => `${p.pid} ${p.cmdline.join(" ")}`),
          "desktop processes left",
        ).toEqual([]);
        // A retry returns it unchanged.
        const again = await sc(m, 0).terminateSession({ sessionId: session.id });
        expect(again.session?.state).toBe(SessionState.TERMINATED);
        chain = undefined;
      },
      testTimeout,
    );
  });

  describe("timers", () => {
    /** One timer: which, what it ends the session with, and how a session gets it armed. */
    interface TimerCase {
      readonly timer: SessionTimer;
      readonly reason: SessionStateReason;
      readonly test: string;
      /** The shortened timer, in seconds. */
      readonly short: Partial<TimerLengths>;
      /**
       * Whether `arrange` logs in: the session is then the test account's, a new one (reuse NEVER)
       * whatever other sessions of the account a failed test left; else user `timer-<timer>`'s.
       */
      readonly logsIn: boolean;
      /** Brings a new READY session to where the timer runs; returns its state then. */
      readonly arrange: (m: Mesh, s: Session) => Promise<Session>;
      /** When the timer started, read from the armed session. */
      readonly start: (s: Session) => number | undefined;
    }
    const cases: TimerCase[] = [
      {
        timer: SessionTimer.CONNECT_DEADLINE,
        reason: SessionStateReason.CONNECT_DEADLINE,
        test: "ends a READY session nobody connects to at its connect deadline, warning first",
        short: { connectDeadline: 120 },
        logsIn: false,
        arrange: async (_m, s) => s,
        start: (s) => ms(s.readyTime),
      },
      {
        timer: SessionTimer.IDLE,
        reason: SessionStateReason.IDLE_TIMEOUT,
        test: "ends an ACTIVE session (desktop login held, no activity) at its idle timeout, warning first",
        short: { idleTimeout: 180 },
        logsIn: true,
        arrange: async (m, s) => (await connectClient(m, s)).active,
        start: (s) => Math.max(ms(s.lastConnectTime) ?? 0, ms(s.lastActivityTime) ?? 0),
      },
      {
        timer: SessionTimer.DISCONNECTED_LIMIT,
        reason: SessionStateReason.DISCONNECTED_LIMIT,
        test: "ends a DISCONNECTED session at its disconnected limit, warning first",
        short: { disconnectedLimit: 180 },
        logsIn: true,
        arrange: async (m, s) => {
          const { client } = await connectClient(m, s);
          return disconnectClient(m, s, client);
        },
        start: (s) => ms(s.lastDisconnectTime),
      },
      {
        timer: SessionTimer.MAX_DURATION,
        reason: SessionStateReason.MAX_DURATION,
        test: "ends a session at its maximum duration from creation, warning first",
        short: { maxDuration: 600 },
        logsIn: false,
        arrange: async (_m, s) => s,
        start: (s) => ms(s.createTime),
      },
      {
        timer: SessionTimer.KEEPALIVE_EXPIRY,
        reason: SessionStateReason.KEEPALIVE_EXPIRED,
        test: "ends a session whose KeepAlives stop at its keepalive timeout after the last one, warning first",
        short: { keepaliveTimeout: 180 },
        logsIn: false,
        arrange: async (m, s) => {
          const kept = await sc(m, 1).keepAlive({ sessionId: s.id });
          expect(kept.session?.lastKeepaliveTime).toBeDefined();
          const expiry = kept.session?.deadlines.find(
            (d) => d.timer === SessionTimer.KEEPALIVE_EXPIRY,
          );
          expect(ms(expiry?.deadlineTime)).toBe(ms(kept.keepaliveExpireTime));
          return kept.session as Session;
        },
        start: (s) => ms(s.lastKeepaliveTime),
      },
    ];

    for (const c of cases) {
      it(
        `${SessionTimer[c.timer]}: ${c.test}`,
        async (ctx) => {
          const m = fixture.need(ctx);
          if (c.logsIn) needLogins(ctx);
          const user = c.logsIn
            ? alice.name
            : `timer-${SessionTimer[c.timer].toLowerCase().replaceAll("_", "-")}`;
          const cursor = await startCursor(m, user);
          const watch = new Watch(sc(m, 1), { user, afterEventId: cursor });
          try {
            const reuse = c.logsIn ? SessionReusePolicy.NEVER : SessionReusePolicy.UNSPECIFIED;
            const created = await createReady(m, user, { policy: policyWith(c.short, reuse) });
            const lengthMs = (Object.values(c.short)[0] ?? 0) * 1_000;
            expect(policyLengthMs(created.policy, c.short)).toBe(lengthMs);
            const arranged = await c.arrange(m, created);
            const armed = await untilSession(
              m,
              created.id,
              `${SessionState[arranged.state]} with ${SessionTimer[c.timer]} armed`,
              (s) => s.state === arranged.state && deadlineOf(s, c.timer) !== undefined,
            );
            // The shortened timer is the soonest, and `deadlines` lists the soonest first (soft:
            // the timer is still fired when only the order is wrong).
            const times = armed.deadlines.map((d) => ms(d.deadlineTime) ?? 0);
            expect
              .soft(times, `deadlines soonest first: ${show(armed)}`)
              .toEqual([...times].sort((a, b) => a - b));
            const { warning, deadline } = deadlineOf(armed, c.timer) as {
              warning: Date;
              deadline: Date;
            };
            expect(Math.min(...times), show(armed)).toBe(deadline.getTime());
            expect(deadline.getTime() - warning.getTime()).toBe(warnBeforeMs);
            expect(deadline.getTime() - (c.start(armed) ?? 0), show(armed)).toBe(lengthMs);

            await fireTimer(m, clock, watch, armed, c.timer, c.reason);
          } finally {
            await watch.stop();
            await releaseAll();
          }
        },
        testTimeout,
      );
    }
  });

  describe("watchSessions()", () => {
    it(
      "resumed from the last event id seen, on the other replica, delivers every transition exactly once",
      async (ctx) => {
        const m = fixture.need(ctx);
        needLogins(ctx);
        const user = alice.name;
        const cursor = await startCursor(m, user);
        const full = new Watch(sc(m, 1), { user, afterEventId: cursor });
        const first = new Watch(sc(m, 0), { user, afterEventId: cursor });
        let second: Watch | undefined;
        try {
          // A new session of the account, whatever other sessions of it a failed test left.
          const session = await createReady(m, user, {
            policy: { reuse: SessionReusePolicy.NEVER },
          });
          // The browser goes away once it has seen the session READY...
          await first.until(
            m,
            `${session.id} READY`,
            (e) => e.session?.id === session.id && e.session.state === SessionState.READY,
          );
          await first.stop();
          const seen = first.events.length;
          const lastSeen = first.events.at(-1)?.eventId ?? "";
          expect(lastSeen).not.toBe("");

          // ...and misses a connect, a disconnect and the termination.
          const { client } = await connectClient(m, session);
          await disconnectClient(m, session, client);
          await sc(m, 0).terminateSession({ sessionId: session.id });
          await untilState(m, session.id, SessionState.TERMINATED);

          // It comes back to the other replica with the last event id it saw.
          second = new Watch(sc(m, 1), { user, afterEventId: lastSeen });
          await second.until(m, `${session.id} TERMINATED (resumed)`, isTerminated(session.id));
          await full.until(m, `${session.id} TERMINATED (full)`, isTerminated(session.id));

          expect(first.events.length).toBe(seen);
          const resumed = throughTerminated([...first.events, ...second.events], session.id);
          const whole = throughTerminated(full.events, session.id);
          const ids = (events: WatchSessionsResponse[]) => events.map((e) => e.eventId);
          const detail = `full:${full.show()}\nfirst:${first.show()}\nsecond:${second.show()}`;
          expect(new Set(ids(whole)).size, detail).toBe(whole.length);
          expect(ids(resumed), detail).toEqual(ids(whole));
          expect(second.events[0]?.eventId, detail).not.toBe(lastSeen);

          // Every transition, once, in order, each naming the state before it.
          expect(SessionEventType[whole[0]?.type ?? 0], detail).toBe("CREATED");
          expect(SessionState[whole[0]?.session?.state ?? 0], detail).toBe("PENDING");
          const changes = whole.filter((e) => e.type === SessionEventType.STATE_CHANGED);
          expect(
            changes.map((e) => SessionState[e.session?.state ?? 0]),
            detail,
          ).toEqual([
            "PROVISIONING",
            "READY",
            "ACTIVE",
            "DISCONNECTED",
            "TERMINATING",
            "TERMINATED",
          ]);
          expect(
            changes.map((e) => SessionState[e.previousState]),
            detail,
          ).toEqual(["PENDING", "PROVISIONING", "READY", "ACTIVE", "DISCONNECTED", "TERMINATING"]);
        } finally {
          await Promise.all([full.stop(), first.stop(), second?.stop()]);
          await releaseAll();
        }
      },
      testTimeout,
    );
  });

  describe("restart", () => {
    it(
      "keeps every session and its deadlines when a replica is killed with SIGKILL and started again; the timers still fire",
      async (ctx) => {
        const m = fixture.need(ctx);
        needLogins(ctx);
        const users = { ready: "restart-ready", active: alice.name };
        const watch = new Watch(sc(m, 1), {
          afterEventId: await startCursor(m, users.ready),
        });
        try {
          // One READY session on its connect deadline, one ACTIVE on its idle timeout.
          const ready = await createReady(m, users.ready, {
            policy: policyWith({ connectDeadline: 120 }),
          });
          const activeCreated = await createReady(m, users.active, {
            policy: policyWith({ idleTimeout: 300 }, SessionReusePolicy.NEVER),
          });
          const { active } = await connectClient(m, activeCreated);
          const before = await Promise.all(
            [ready, active].map(async (s) =>
              untilSession(
                m,
                s.id,
                `${SessionState[s.state]} with its timers armed`,
                (x) =>
                  x.state === s.state &&
                  deadlineOf(x, s === ready ? SessionTimer.CONNECT_DEADLINE : SessionTimer.IDLE) !==
                    undefined,
              ),
            ),
          );

          const port = m.sessionControllers[0]?.port;
          const restarted = await m.restartSessionController(0);
          // Same port: the node's SESSION_CONTROLLER_URL still reaches it.
          expect(restarted.port).toBe(port);

          // The restarted replica and the other one hold the same sessions and deadlines.
          for (const replica of [0, 1]) {
            for (const s of before) {
              const got = (await sc(m, replica).getSession({ sessionId: s.id })).session;
              expect(SessionState[got?.state ?? 0], show(got)).toBe(SessionState[s.state]);
              expect(deadlinesOf(got), show(got)).toEqual(deadlinesOf(s));
              expect(got?.serverId).toBe(s.serverId);
            }
          }
          const { sessions } = await sc(m, 0).listSessions({
            states: [SessionState.READY, SessionState.ACTIVE],
            pageSize: 1000,
          });
          expect(sessions.map((s) => s.id)).toEqual(
            expect.arrayContaining(before.map((s) => s.id)),
          );

          // The desktop login held across the restart still counts.
          await untilSession(
            m,
            active.id,
            "ACTIVE after the restart",
            (s) => s.state === SessionState.ACTIVE && s.connectionCount >= 1,
          );

          // The timers fire after the restart, each warning first, once.
          await fireTimer(
            m,
            clock,
            watch,
            before[0] as Session,
            SessionTimer.CONNECT_DEADLINE,
            SessionStateReason.CONNECT_DEADLINE,
            { timeoutMs: takeoverMs },
          );
          await fireTimer(
            m,
            clock,
            watch,
            before[1] as Session,
            SessionTimer.IDLE,
            SessionStateReason.IDLE_TIMEOUT,
            { timeoutMs: takeoverMs },
          );
        } finally {
          await watch.stop();
          await releaseAll();
        }
      },
      testTimeout,
    );
  });
});

/** A session's deadlines as comparable text. */
function deadlinesOf(s: Session | undefined): string[] {
  return (s?.deadlines ?? []).map(
    (d) => `${SessionTimer[d.timer]} warn ${ms(d.warningTime)} at ${ms(d.deadlineTime)}`,
  );
}

/** The policy length in force (ms) of the one timer `short` names. */
function policyLengthMs(
  policy: Session["policy"],
  short: Partial<TimerLengths>,
): number | undefined {
  const field = Object.keys(short)[0] as keyof TimerLengths | undefined;
  const d = field === undefined ? undefined : policy?.[field];
  return d === undefined ? undefined : Number(d.seconds) * 1_000 + Math.round(d.nanos / 1e6);
}

describe("SessionController caps over two replicas (SESSION_MAX_PER_USER=2, SESSION_MAX_TOTAL=4)", () => {
  const fixture = lifecycleMesh({ SESSION_MAX_PER_USER: "2", SESSION_MAX_TOTAL: "4" });
  /** Every create makes a new session, so that only the caps say no. */
  const never: PolicyInit = { reuse: SessionReusePolicy.NEVER };

  /** Terminates the sessions through both replicas and waits until each is TERMINATED. */
  async function terminateAll(m: Mesh, sessions: Session[]): Promise<void> {
    await Promise.all(sessions.map((s, i) => sc(m, i % 2).terminateSession({ sessionId: s.id })));
    for (const s of sessions) await untilState(m, s.id, SessionState.TERMINATED);
  }

  /** Splits settled creates into sessions and errors. */
  function outcomes(results: PromiseSettledResult<CreateSessionResponse>[]): {
    sessions: Session[];
    errors: ConnectError[];
  } {
    const sessions: Session[] = [];
    const errors: ConnectError[] = [];
    for (const r of results) {
      if (r.status === "fulfilled") sessions.push(r.value.session as Session);
      else errors.push(ConnectError.from(r.reason));
    }
    return { sessions, errors };
  }

  describe("createSession()", () => {
    it(
      "lets exactly 4 of 8 concurrent creates of 4 users over both replicas through; the rest are RESOURCE_EXHAUSTED naming the total cap",
      async (ctx) => {
        const m = fixture.need(ctx);
        const users = ["cap-0", "cap-1", "cap-2", "cap-3"];
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            sc(m, i % 2).createSession(createRequest(users[i % 4] as string, { policy: never })),
          ),
        );
        const { sessions, errors } = outcomes(results);
        const detail = `${sessions.map(show).join("\n")}\n${errors.map(String).join("\n")}`;
        expect(sessions.length, detail).toBe(4);
        expect(
          errors.map((e) => Code[e.code]),
          detail,
        ).toEqual(Array(4).fill("ResourceExhausted"));
        for (const e of errors) {
          expect(e.rawMessage).toMatch(/total/i);
          expect(e.rawMessage).not.toMatch(/per.?user/i);
        }
        for (const s of sessions) expect(SessionState[s.state], show(s)).toBe("READY");
        expect(new Set(sessions.map((s) => s.id)).size).toBe(4);

        // Cluster-wide: both replicas list exactly these 4 live sessions, and 4 servers run.
        const live = [
          SessionState.PENDING,
          SessionState.PROVISIONING,
          SessionState.READY,
          SessionState.ACTIVE,
          SessionState.DISCONNECTED,
        ];
        for (const replica of [0, 1]) {
          const listed = (await sc(m, replica).listSessions({ states: live, pageSize: 1000 }))
            .sessions;
          expect(listed.map((s) => s.id).sort()).toEqual(sessions.map((s) => s.id).sort());
        }
        expect(m.xrdpProcesses().length).toBe(4);

        // The caps are given back when the sessions end.
        await terminateAll(m, sessions);
        const after = await createReady(m, "cap-after", { policy: never }, 1);
        await terminateAll(m, [after]);
      },
      testTimeout,
    );

    it(
      "lets one user have 2 sessions of 4 concurrent creates over both replicas; the rest, and one more, are RESOURCE_EXHAUSTED naming the per-user cap",
      async (ctx) => {
        const m = fixture.need(ctx);
        const user = "cap-same";
        const results = await Promise.allSettled(
          Array.from({ length: 4 }, (_, i) =>
            sc(m, i % 2).createSession(createRequest(user, { policy: never })),
          ),
        );
        const { sessions, errors } = outcomes(results);
        const detail = `${sessions.map(show).join("\n")}\n${errors.map(String).join("\n")}`;
        expect(sessions.length, detail).toBe(2);
        expect(new Set(sessions.map((s) => s.id)).size).toBe(2);
        expect(
          errors.map((e) => Code[e.code]),
          detail,
        ).toEqual(Array(2).fill("ResourceExhausted"));
        for (const e of errors) expect(e.rawMessage).toMatch(/per.?user/i);

        for (const replica of [0, 1]) {
          const err = await errorOf(
            sc(m, replica).createSession(createRequest(user, { policy: never })),
          );
          expect(err?.code, String(err)).toBe(Code.ResourceExhausted);
          expect(err?.rawMessage).toMatch(/per.?user/i);
        }
        // Another user is not held back by this one's cap.
        const other = await createReady(m, "cap-other", { policy: never }, 0);
        await terminateAll(m, [...sessions, other]);
      },
      testTimeout,
    );
  });
});
