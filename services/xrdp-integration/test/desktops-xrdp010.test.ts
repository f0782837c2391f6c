/**
 * Desktops owned by their instance on xrdp 0.10.1 (Debian trixie), as desktops.test.ts checks them
 * on the host's xrdp 0.9.21: xrdp-integration's BUNDLE runs chrooted in the trixie root that
 * .ci/build-trixie-root.sh builds (.tools/trixie, mounted by .ci/trixie-chroot-mounts.sh), driven
 * over gRPC, and a REAL RDP client (xfreerdp under Xvfb on the host) logs in. On 0.10 each
 * instance's xrdp and sesman run in a mount namespace with the instance's own socket directory.
 *
 * The owner gets a desktop (proven by a file its session writes, with its uid in the root); other
 * accounts and root are refused and reported LOGIN_REFUSED; a connection counts only once logged
 * in; StopInstance ends every desktop process and display file of the block; a connected desktop
 * survives SIGTERM and kill -9 of the service (FerretDB records), which adopts it; 31 desktops in
 * a row leave nothing behind and the 31st logs in.
 *
 * Displays 200-260 and the client's Xvfb :95 keep clear of desktops.test.ts (40-89, :93) and the
 * chain test (100-199, :94), which may run at the same time. The chroot's /tmp is the host's.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  type Instance,
  InstanceEventType,
  InstanceState,
  type WatchInstancesResponse,
  XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import {
  type Account,
  type ChrootService,
  clearDesktopProofs,
  desktopProofs,
  findTool,
  freePort,
  inRoot,
  killStateDirProcesses,
  type RdpClient,
  type RealServer,
  rdpConnect,
  rdpTools,
  rootAccount,
  runsInRoot,
  spawnChrootService,
  startMongoWire,
  startXvfb,
  testAccounts,
  trixieMounts,
  trixieRootMissing,
} from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleService } from "../../../scripts/bundle.js";
import { desktopProcesses } from "../src/host/x-displays.js";
import { until } from "./support/until.js";

const rootMissing = trixieRootMissing(); // throws under CI=true
const alice = rootMissing === undefined ? rootAccount(testAccounts.alice.name) : undefined;
const bob = rootMissing === undefined ? rootAccount(testAccounts.bob.name) : undefined;
// FerretDB, unless MONGODB_URI names a server (startMongoWire's choice); throws under CI=true.
const mongoReady =
  (process.env.MONGODB_URI ?? "") !== "" ||
  findTool("ferretdb", "bash .ci/build-ferretdb.sh") !== undefined;
const ready =
  rootMissing === undefined &&
  alice !== undefined &&
  bob !== undefined &&
  rdpTools.xfreerdp !== undefined &&
  rdpTools.xvfb !== undefined;
if (!ready) {
  process.stderr.write(
    `\n!!! SKIPPED "desktops on xrdp 0.10": ${rootMissing ?? "xfreerdp, Xvfb or the root's test accounts missing (bash .ci/build-trixie-root.sh; apt-get install -y freerdp2-x11 xvfb)"}\n\n`,
  );
}

const clientDisplay = 95;
const displayRange = { first: 200, last: 260 };
const runId = randomUUID().slice(0, 8);
/** The bundle's directory, inside the root. */
const bundleDir = `/opt/lucid-xrdp010-${runId}`;
const bundle = `${bundleDir}/xrdp-integration/main.mjs`;
/** State directories (paths inside the root), one per service. */
const stateDirs: string[] = [];
const services: ChrootService[] = [];
const clients: RdpClient[] = [];
let stopXvfb: (() => void) | undefined;

/** The service's environment for a new state directory (inside the root, unique to this run). */
function serviceEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  const stateDir = `/var/lib/lucid-xrdp010-${runId}-${name}`;
  stateDirs.push(stateDir);
  return {
    PORT: "0",
    LOG_LEVEL: "info",
    XRDP_STATE_DIR: stateDir,
    XRDP_DISPLAY_RANGE: `${displayRange.first}-${displayRange.last}`,
    XRDP_CONNECTION_POLL_MS: "200",
    XRDP_STOP_GRACE_MS: "3000",
    ...extra,
  };
}

async function startService(env: Record<string, string>): Promise<ChrootService> {
  const svc = await spawnChrootService(bundle, env);
  services.push(svc);
  return svc;
}

/** SIGTERM, then SIGKILL after 20 s. */
async function stopService(svc: ChrootService | undefined): Promise<void> {
  if (svc === undefined || svc.child.exitCode !== null || svc.child.signalCode !== null) return;
  svc.kill("SIGTERM");
  const timer = setTimeout(() => svc.kill("SIGKILL"), 20_000);
  await svc.exited;
  clearTimeout(timer);
}

const clientOf = (svc: ChrootService) =>
  createNodeClient(XrdpIntegrationService, { baseUrl: svc.url, timeoutMs: 60_000 });
type Client = ReturnType<typeof clientOf>;

/** Every case runs on xrdp 0.10, with desktops the service owns. */
async function expectXrdp010(c: Client): Promise<void> {
  const host = (await c.getHostInfo({})).hostInfo;
  expect(host?.xrdpVersion).toMatch(/^0\.10/);
  expect(host?.ownsDesktops, host?.desktopUnavailableReason).toBe(true);
}

async function startFor(c: Client, owner: string): Promise<Instance> {
  const inst = (
    await c.startInstance(
      { requestId: randomUUID(), owner, port: await freePort(), waitTimeout: { seconds: 20n } },
      { timeoutMs: 40_000 },
    )
  ).instance;
  expect(inst?.state, inst?.stateMessage).toBe(InstanceState.READY);
  return inst as Instance;
}

function login(port: number, user: string, password: string): RdpClient {
  const c = rdpConnect({ port, user, password, xDisplay: clientDisplay });
  clients.push(c);
  return c;
}

const blockOf = (i: Instance) => ({ first: i.displayFirst, count: i.displayCount });
const inBlock = (i: Instance, d: number) =>
  d >= i.displayFirst && d < i.displayFirst + i.displayCount;

/** X display files of the block left on disk (the root's /tmp is the host's). */
function displayFiles(i: Instance): string[] {
  const out: string[] = [];
  for (let d = i.displayFirst; d < i.displayFirst + i.displayCount; d++) {
    for (const f of [`/tmp/.X${d}-lock`, `/tmp/.X11-unix/X${d}`]) if (existsSync(f)) out.push(f);
  }
  return out;
}

/** The instance's directory (host path): config, log, TLS material, 0.10's socket directory. */
const instanceDir = (stateDir: string, i: Instance) => inRoot(`${stateDir}/${i.id}`);

function xrdpLog(stateDir: string, i: Instance): string {
  try {
    return readFileSync(`${instanceDir(stateDir, i)}/xrdp-${i.id}.log`, "utf8");
  } catch {
    return "";
  }
}

/**
 * The account's desktop proofs with content: `id -u > file` creates the file before `id` writes
 * to it, and desktopProofs reads an empty file as uid 0.
 */
function writtenProofs(account: Account): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of desktopProofs(account).keys()) {
    for (const name of [`desktop-proof.:${d}`, `desktop-proof.:${d}.0`]) {
      let text = "";
      try {
        text = readFileSync(join(account.home, name), "utf8");
      } catch {
        continue;
      }
      if (/^\d+\n$/.test(text)) out.set(d, Number(text));
    }
  }
  return out;
}

/** Waits for the account's desktop on the instance's block: the proof its session wrote. */
async function desktopOf(account: Account, i: Instance): Promise<[number, number] | undefined> {
  const proofs = await until(
    () => writtenProofs(account),
    (m) => [...m.keys()].some((d) => inBlock(i, d)),
    45_000,
  );
  return [...proofs.entries()].find(([d]) => inBlock(i, d));
}

/** True while the pid is a live process (a zombie has ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const pidsOf = (i: Instance) =>
  desktopProcesses(blockOf(i))
    .map((p) => p.pid)
    .sort((a, b) => a - b);

/** Follows WatchInstances for one instance from a cursor, collecting events until stopped. */
function watch(c: Client, instanceId: string, afterEventId: string) {
  const events: WatchInstancesResponse[] = [];
  const ac = new AbortController();
  let error: unknown;
  const done = (async () => {
    try {
      for await (const ev of c.watchInstances(
        { instanceId, afterEventId },
        { signal: ac.signal, timeoutMs: 300_000 },
      )) {
        events.push(ev);
      }
    } catch (e) {
      if (!ac.signal.aborted) error = e;
    }
  })();
  return {
    events,
    types: () => events.map((e) => InstanceEventType[e.type]),
    error: () => error,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

const refusedLine = "xrdp_wm_log_msg: User does not exist, or could not be authenticated";
const count = (text: string, s: string) => text.split(s).length - 1;

beforeAll(async () => {
  if (!ready) return;
  trixieMounts("mount");
  await bundleService("xrdp-integration", inRoot(bundleDir));
  stopXvfb = await startXvfb(clientDisplay);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of services) s.kill("SIGKILL");
  await Promise.all(services.map((s) => s.exited));
  // What a failed run left: the xrdp and sesman groups of these state directories, then any
  // desktop of the range still running in the root.
  const left = stateDirs.flatMap((dir) => killStateDirProcesses(dir));
  const range = { first: displayRange.first, count: displayRange.last - displayRange.first + 1 };
  for (const p of desktopProcesses(range)) {
    if (!runsInRoot(p.pid)) continue;
    left.push(p.pid);
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  if (left.length > 0) process.stderr.write(`\ndesktops-xrdp010: killed left-overs ${left}\n`);
  stopXvfb?.();
  if (ready) trixieMounts("umount");
  rmSync(inRoot(bundleDir), { recursive: true, force: true });
  for (const dir of stateDirs) rmSync(inRoot(dir), { recursive: true, force: true });
  for (const a of [alice, bob]) if (a !== undefined) clearDesktopProofs(a);
}, 60_000);

describe.skipIf(!ready)("desktops on xrdp 0.10.1 (trixie root, bundle over gRPC, xfreerdp)", () => {
  let svc: ChrootService | undefined;
  let stateDir = "";
  const c = () => clientOf(svc as ChrootService);

  beforeAll(async () => {
    const env = serviceEnv("desk");
    stateDir = env.XRDP_STATE_DIR as string;
    svc = await startService(env);
    // The service answers before its first health round: wait for SERVING.
    await until(
      async () => (await fetch(`${svc?.url}/readyz`)).status,
      (s) => s === 200,
      20_000,
    );
  }, 60_000);
  afterAll(async () => {
    // Without MONGODB_URI, SIGTERM stops the instances.
    await stopService(svc);
  }, 30_000);

  it("gives the owner a desktop on the instance's block, as the owner", async () => {
    const a = alice as Account;
    await expectXrdp010(c());
    clearDesktopProofs(a);
    const inst = await startFor(c(), a.name);
    expect(inst.displayCount).toBeGreaterThan(0);
    expect(inst.displayFirst).toBeGreaterThanOrEqual(displayRange.first);
    expect(inst.displayFirst + inst.displayCount - 1).toBeLessThanOrEqual(displayRange.last);
    // The readiness probe signed off as a client cancelling its login would: no error in 0.10's log.
    expect(
      xrdpLog(stateDir, inst)
        .split("\n")
        .filter((l) => l.includes("[ERROR]")),
    ).toEqual([]);
    const client = login(inst.port, a.name, testAccounts.alice.password);
    const desktop = await desktopOf(a, inst);
    expect(desktop, client.output()).toBeDefined();
    // Written by the desktop session itself, as alice of the root.
    expect(desktop?.[1]).toBe(a.uid);
    expect(xrdpLog(stateDir, inst)).toMatch(
      /xrdp_wm_log_msg: session is available on display \d+ for user lucidalice/,
    );
    // The desktop's X server runs in the root.
    const x = desktopProcesses(blockOf(inst)).find((p) => /Xorg$/.test(p.cmdline[0] ?? ""));
    expect(x, "Xorg of the block").toBeDefined();
    expect(runsInRoot(x?.pid ?? 0)).toBe(true);
    await c().stopInstance({ instanceId: inst.id });
    client.close();
  }, 120_000);

  it("refuses bob with his own password and root, and reports LOGIN_REFUSED", async () => {
    const a = alice as Account;
    const b = bob as Account;
    await expectXrdp010(c());
    clearDesktopProofs(a);
    clearDesktopProofs(b);
    const inst = await startFor(c(), a.name);
    const { lastEventId } = await c().listInstances({});
    const w = watch(c(), inst.id, lastEventId);
    try {
      // bob with his own password: xrdp logs in as the owner (fixed) with bob's password: refused.
      const asBob = login(inst.port, b.name, testAccounts.bob.password);
      await until(
        () => w.types(),
        (t) => t.includes("LOGIN_REFUSED"),
      );
      expect(w.types(), asBob.output()).toContain("LOGIN_REFUSED");
      expect(count(xrdpLog(stateDir, inst), refusedLine)).toBe(1);
      // root, with any password, is the owner with a wrong password as well.
      const asRoot = login(inst.port, "root", "root");
      await until(
        () => w.types(),
        (t) => t.filter((x) => x === "LOGIN_REFUSED").length >= 2,
      );
      const log = xrdpLog(stateDir, inst);
      expect(count(log, refusedLine), log).toBe(2);
      expect(log).not.toMatch(/session is available/);
      expect(w.types().filter((x) => x === "LOGIN_REFUSED")).toHaveLength(2);
      expect(w.types()).not.toContain("LOGIN_SUCCEEDED");
      expect(w.types()).not.toContain("CONNECTION_OPENED");
      expect(w.error()).toBeUndefined();
      expect(desktopProcesses(blockOf(inst))).toEqual([]);
      expect(desktopProofs(a).size).toBe(0);
      expect(desktopProofs(b).size).toBe(0);
      asBob.close();
      asRoot.close();
    } finally {
      await w.stop();
      await c().stopInstance({ instanceId: inst.id });
    }
  }, 120_000);

  it("counts a connection only once its owner logged in, never a refused one", async () => {
    const a = alice as Account;
    const b = bob as Account;
    await expectXrdp010(c());
    clearDesktopProofs(a);
    const inst = await startFor(c(), a.name);
    const { lastEventId } = await c().listInstances({});
    const w = watch(c(), inst.id, lastEventId);
    try {
      const refused = login(inst.port, b.name, testAccounts.bob.password);
      await until(
        () => w.types(),
        (t) => t.includes("LOGIN_REFUSED"),
      );
      expect(w.types()).toContain("LOGIN_REFUSED");
      // bob's client still sits at xrdp's login screen: connected, but nobody's desktop.
      expect(refused.process.exitCode, refused.output()).toBeNull();
      const during = (await c().getInstance({ instanceId: inst.id })).instance;
      expect(during?.activeDisplays).toEqual([]);
      expect((await c().listConnections({ instanceId: inst.id })).connections).toEqual([]);

      const client = login(inst.port, a.name, testAccounts.alice.password);
      const desktop = await desktopOf(a, inst);
      expect(desktop, client.output()).toBeDefined();
      const after = await until(
        async () => (await c().getInstance({ instanceId: inst.id })).instance,
        (i) => (i?.activeDisplays.length ?? 0) > 0,
      );
      expect(after?.activeDisplays).toEqual([desktop?.[0]]);
      const conns = (await c().listConnections({ instanceId: inst.id })).connections;
      // alice's connection, and not bob's, still open at the login screen.
      expect(conns).toHaveLength(1);
      expect(conns[0]?.instanceId).toBe(inst.id);
      expect(conns[0]?.localPort).toBe(inst.port);
      expect(conns[0]?.peer?.host).toBe("127.0.0.1");
      expect(w.types()).toContain("LOGIN_SUCCEEDED");
      refused.close();
      client.close();
    } finally {
      await w.stop();
      await c().stopInstance({ instanceId: inst.id });
    }
  }, 120_000);

  it("ends every desktop process of the block and its display files on StopInstance", async () => {
    const a = alice as Account;
    await expectXrdp010(c());
    clearDesktopProofs(a);
    const inst = await startFor(c(), a.name);
    const client = login(inst.port, a.name, testAccounts.alice.password);
    expect(await desktopOf(a, inst), client.output()).toBeDefined();
    const procs = desktopProcesses(blockOf(inst));
    expect(procs.length).toBeGreaterThan(2);
    const stopped = (await c().stopInstance({ instanceId: inst.id })).instance;
    expect(stopped?.state).toBe(InstanceState.STOPPED);
    expect(desktopProcesses(blockOf(inst))).toEqual([]);
    for (const p of procs) expect(alive(p.pid), `pid ${p.pid} ${p.cmdline.join(" ")}`).toBe(false);
    expect(displayFiles(inst)).toEqual([]);
    // Config, key material and 0.10's socket directory go with the instance.
    expect(existsSync(instanceDir(stateDir, inst))).toBe(false);
    await client.exited;
  }, 120_000);

  it("leaves no desktop or display file after 30 desktops in a row, and the 31st logs in", async () => {
    const a = alice as Account;
    await expectXrdp010(c());
    for (let n = 1; n <= 31; n++) {
      clearDesktopProofs(a);
      const inst = await startFor(c(), a.name);
      const client = login(inst.port, a.name, testAccounts.alice.password);
      const desktop = await desktopOf(a, inst);
      expect(desktop, `desktop ${n}: ${client.output()}`).toBeDefined();
      expect(desktop?.[1], `desktop ${n}`).toBe(a.uid);
      // Ended hard: SIGKILL leaves X's lock and socket behind unless the service removes them.
      await c().stopInstance({ instanceId: inst.id, force: true });
      client.close();
      expect(desktopProcesses(blockOf(inst)), `desktop ${n}`).toEqual([]);
      expect(displayFiles(inst), `desktop ${n}`).toEqual([]);
    }
  }, 600_000);
});

if (ready && !mongoReady) {
  process.stderr.write(
    '\n!!! SKIPPED "a desktop on xrdp 0.10.1 across restarts": ferretdb missing (bash .ci/build-ferretdb.sh) and MONGODB_URI unset\n\n',
  );
}

describe.skipIf(!ready || !mongoReady)(
  "a desktop on xrdp 0.10.1 across restarts of the service",
  () => {
    let mongo: RealServer | undefined;

    afterAll(async () => {
      await mongo?.close();
    });

    it("keeps a connected desktop through SIGTERM and kill -9 of the service, which adopts it", async () => {
      const a = alice as Account;
      clearDesktopProofs(a);
      mongo = await startMongoWire();
      // The chroot shares the host's network: FerretDB on 127.0.0.1 is reachable from inside.
      // XRDP_STOP_ON_SHUTDOWN unset: with MONGODB_URI, shutdown leaves desktops to be adopted.
      const env = serviceEnv("restart", {
        MONGODB_URI: mongo.url,
        MONGODB_DB: `desk010_${runId}`,
      });
      let svc: ChrootService = await startService(env);
      const c = () => clientOf(svc);
      // While a (re)started service connects to its database, reads answer UNAVAILABLE: retried.
      const read = async (id: string) => {
        try {
          return (await c().getInstance({ instanceId: id }, { timeoutMs: 5_000 })).instance;
        } catch {
          return undefined;
        }
      };
      await until(
        async () => (await fetch(`${svc.url}/readyz`)).status,
        (s) => s === 200,
        30_000,
      );
      await expectXrdp010(c());
      const inst = await startFor(c(), a.name);
      expect(inst.sesmanPid).toBeGreaterThan(0);
      const client = login(inst.port, a.name, testAccounts.alice.password);
      expect(await desktopOf(a, inst), client.output()).toBeDefined();
      const connected = await until(
        () => read(inst.id),
        (i) => (i?.activeDisplays.length ?? 0) > 0,
      );
      expect(connected?.activeDisplays).toHaveLength(1);
      const desktop = pidsOf(inst);
      expect(desktop.length).toBeGreaterThan(2);

      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        svc.kill(signal);
        await svc.exited;
        expect(pidsOf(inst), signal).toEqual(desktop);
        expect(client.process.exitCode, `${signal}: ${client.output()}`).toBeNull();
        svc = await startService(env);
        const again = await until(
          () => read(inst.id),
          (i) => i?.state === InstanceState.READY && (i.activeDisplays.length ?? 0) > 0,
          45_000,
        );
        expect(again?.state, `${signal}: ${svc.output()}`).toBe(InstanceState.READY);
        expect(again?.pid, signal).toBe(inst.pid);
        expect(again?.sesmanPid, signal).toBe(inst.sesmanPid);
        expect(again?.activeDisplays, signal).toEqual(connected?.activeDisplays);
        await expectXrdp010(c());
        expect(pidsOf(inst), signal).toEqual(desktop);
      }
      const stopped = (await c().stopInstance({ instanceId: inst.id })).instance;
      expect(stopped?.state).toBe(InstanceState.STOPPED);
      expect(desktopProcesses(blockOf(inst))).toEqual([]);
      expect(displayFiles(inst)).toEqual([]);
      await client.exited;
      await stopService(svc);
    }, 240_000);
  },
);
