/**
 * Desktops owned by their instance, with a REAL RDP client: xfreerdp under Xvfb logs in with a
 * password over TLS to real xrdp and xrdp-sesman (an xorgxrdp desktop with openbox). The session's
 * user gets a desktop, proven by a file its own session writes; other accounts and root are
 * refused; stopping the instance ends every process of the desktop and frees its displays; a new
 * supervisor over the same records (a restart of the service) keeps a connected desktop; 30
 * instances in a row leave no stale display files and the 31st still logs in.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InstanceState, XrdpIntegrationService } from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { findProcesses } from "@lucid-rdp/proc";
import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import {
  type Account,
  type ChildServer,
  clearDesktopProofs,
  desktopProofs,
  freePort,
  type RdpClient,
  type RealServer,
  rdpConnect,
  rdpTools,
  repoRoot,
  spawnService,
  startMongoWire,
  startXvfb,
  testAccounts,
} from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPolicy } from "../src/domain/policy.js";
import { desktopProcesses } from "../src/host/x-displays.js";
import type { InstanceRecord } from "../src/store/records.js";
import { xrdpIntegrationSpecs } from "../src/store/specs.js";
import {
  type ConnectionReporter,
  ConnectionWatcher,
} from "../src/supervisor/connection-watcher.js";
import { hostSesmanPort } from "../src/supervisor/instance-sesman.js";
import {
  InstanceSupervisor,
  OwnerNotAllowedError,
  type SupervisorOptions,
} from "../src/supervisor/instance-supervisor.js";
import { alice, bob, desktopsReady, xrdpBin } from "./support/desktop-tools.js";
import { testTimings } from "./support/test-timings.js";
import { until } from "./support/until.js";

const ready = desktopsReady;
const logger = createLogger({ service: "test", level: "silent" });
const { defaults, floor } = buildPolicy({ allowRdpSecurity: false, allowRootLogin: false });
const clientDisplay = 93;
const displayRange = { first: 40, last: 89 };
const clients: RdpClient[] = [];
let stopXvfb: (() => void) | undefined;

function makeSupervisor(over: Partial<SupervisorOptions> = {}) {
  const store =
    over.store ??
    (createMemoryStores(xrdpIntegrationSpecs).instances as SupervisorOptions["store"]);
  const stateDir = over.stateDir ?? mkdtempSync(join(tmpdir(), "xrdp-desk-"));
  const sup = new InstanceSupervisor({
    store,
    bus: createMemoryCoordination().bus,
    logger,
    xrdpBin,
    sesmanBin: rdpTools.sesman,
    sesmanPort: hostSesmanPort(),
    displayRange,
    stateDir,
    listenAddress: "127.0.0.1",
    maxInstances: 8,
    defaults: { ...defaults, maxSessions: 2 },
    floor,
    ...testTimings,
    readinessTimeoutMs: 15_000,
    stopGraceMs: 3_000,
    ...over,
  });
  return { sup, store, stateDir };
}

/** The pids of the desktop processes on an instance's displays, sorted. */
function desktopPids(r: InstanceRecord): number[] {
  return desktopProcesses(blockOf(r))
    .map((p) => p.pid)
    .sort();
}

/** A supervisor and an instance of alice's started on it, her desktop proofs cleared first. */
async function aliceInstance() {
  const a = alice as Account;
  clearDesktopProofs(a);
  const made = makeSupervisor();
  return { ...made, a, b: bob as Account, r: await startFor(made.sup, a.name) };
}

async function startFor(sup: InstanceSupervisor, owner: string): Promise<InstanceRecord> {
  const r = await sup.start({
    requestId: randomUUID(),
    serverId: randomUUID(),
    owner,
    port: await freePort(),
    settings: {},
  });
  const settled = await sup.waitSettled(r.id, 20_000);
  expect(settled.state, settled.stateMessage).toBe("READY");
  return settled;
}

function login(port: number, user: string, password: string): RdpClient {
  const c = rdpConnect({ port, user, password, xDisplay: clientDisplay });
  clients.push(c);
  return c;
}

const blockOf = (r: InstanceRecord) => ({
  first: r.displayFirst ?? -1,
  count: r.displayCount ?? 0,
});

/** Display files of the block left on disk. */
function displayFiles(r: InstanceRecord): string[] {
  const out: string[] = [];
  const b = blockOf(r);
  for (let d = b.first; d < b.first + b.count; d++) {
    for (const f of [
      `/tmp/.X${d}-lock`,
      `/tmp/.X11-unix/X${d}`,
      `/run/xrdp/sockdir/xrdp_display_${d}`,
    ]) {
      if (existsSync(f)) out.push(f);
    }
  }
  return out;
}

/** Waits for the account's desktop on the instance's block: the proof its session wrote. */
async function desktopOf(
  account: Account,
  r: InstanceRecord,
): Promise<[number, number] | undefined> {
  const b = blockOf(r);
  const proofs = await until(
    () => desktopProofs(account),
    (m) => [...m.keys()].some((d) => d >= b.first && d < b.first + b.count),
    30_000,
  );
  return [...proofs.entries()].find(([d]) => d >= b.first && d < b.first + b.count);
}

function xrdpLog(r: InstanceRecord): string {
  try {
    return readFileSync(join(r.configDir ?? "", `xrdp-${r.id}.log`), "utf8");
  } catch {
    return "";
  }
}

describe.skipIf(!ready)("desktops with a real RDP client (xfreerdp, xrdp, xorgxrdp)", () => {
  beforeAll(async () => {
    stopXvfb = await startXvfb(clientDisplay);
  });
  afterAll(() => {
    for (const c of clients) c.close();
    stopXvfb?.();
  });

  it("gives the session's user a desktop of their own, and ends it with the instance", async () => {
    const a = alice as Account;
    clearDesktopProofs(a);
    const { sup } = makeSupervisor();
    const r = await startFor(sup, a.name);
    const client = login(r.port, a.name, testAccounts.alice.password);
    const desktop = await desktopOf(a, r);
    expect(desktop, client.output()).toBeDefined();
    // Written by the desktop session itself, as alice.
    expect(desktop?.[1]).toBe(a.uid);
    const procs = desktopProcesses(blockOf(r));
    expect(procs.length).toBeGreaterThan(2);
    expect(xrdpLog(r)).toMatch(/login successful for user lucidalice on display \d+/);

    await sup.stop(r.id);
    expect(desktopProcesses(blockOf(r))).toEqual([]);
    for (const p of procs)
      expect(
        existsSync(`/proc/${p.pid}`) &&
          readFileSync(`/proc/${p.pid}/stat`, "utf8").split(" ")[2] !== "Z",
        `pid ${p.pid} ${p.cmdline.join(" ")}`,
      ).toBe(false);
    expect(displayFiles(r)).toEqual([]);
    // Key material and config go with the instance.
    expect(existsSync(r.configDir ?? "/nonexistent")).toBe(false);
    await client.exited;
    await sup.close(true);
  }, 90_000);

  it("refuses every other account, with its own password or the owner's name", async () => {
    clearDesktopProofs(bob as Account);
    const { a, b, sup, r } = await aliceInstance();
    // bob with his own password: xrdp logs in as the owner (fixed) with bob's password: refused.
    const asBob = login(r.port, b.name, testAccounts.bob.password);
    const log = await until(
      () => xrdpLog(r),
      (t) => /login failed for user lucidalice/.test(t),
    );
    expect(log).toMatch(/login failed for user lucidalice/);
    expect(log).not.toMatch(/login successful/);
    // root, with any password, is the owner with a wrong password as well.
    const asRoot = login(r.port, "root", "root");
    await until(
      () => xrdpLog(r),
      // 0.9 logs each refusal twice, once as a window message: count those only.
      (t) => (t.match(/xrdp_wm_log_msg: login failed for user lucidalice/g) ?? []).length >= 2,
    );
    expect(xrdpLog(r)).not.toMatch(/for user (lucidbob|root)/);
    expect(desktopProcesses(blockOf(r))).toEqual([]);
    expect(desktopProofs(b).size).toBe(0);
    expect(desktopProofs(a).size).toBe(0);
    asBob.close();
    asRoot.close();
    await sup.stop(r.id);
    await sup.close(true);
  }, 90_000);

  it("reports a connection only once its login succeeded, and a refused login as refused", async () => {
    const { a, b, sup, r } = await aliceInstance();
    const reports: Parameters<ConnectionReporter>[0][] = [];
    const watcher = new ConnectionWatcher({
      instances: sup.instances,
      bus: createMemoryCoordination().bus,
      logger,
      pollMs: 100,
      report: async (e) => {
        reports.push(e);
      },
    });
    watcher.start();
    try {
      const refused = login(r.port, b.name, testAccounts.bob.password);
      await until(
        () => reports,
        (x) => x.some((e) => e.type === "LOGIN_REFUSED"),
      );
      // The refused client may still sit at xrdp's login screen: it is not a session's user.
      expect(reports.map((e) => e.type)).toEqual(["LOGIN_REFUSED"]);
      expect(watcher.list({ instanceId: r.id })).toEqual([]);
      refused.close();

      const client = login(r.port, a.name, testAccounts.alice.password);
      await until(
        () => reports,
        (x) => x.some((e) => e.type === "CONNECTED"),
      );
      const connected = reports.find((e) => e.type === "CONNECTED");
      expect(connected?.connection.serverId).toBe(r.serverId);
      expect(connected?.connectionCount).toBe(1);
      const display = watcher.activeDisplays(r.id)[0];
      expect(display).toBeGreaterThanOrEqual(r.displayFirst ?? 0);
      expect((await desktopOf(a, r))?.[0]).toBe(display);
      client.close();
      await until(
        () => reports,
        (x) => x.some((e) => e.type === "DISCONNECTED"),
      );
      expect(reports.map((e) => e.type)).toEqual(["LOGIN_REFUSED", "CONNECTED", "DISCONNECTED"]);
    } finally {
      await watcher.stop();
      await sup.stop(r.id);
      await sup.close(true);
    }
  }, 90_000);

  it("frees the display of a desktop whose X server was killed, so the next login gets it", async () => {
    const a = alice as Account;
    clearDesktopProofs(a);
    const { sup } = makeSupervisor({ healthIntervalMs: 300 });
    const r = await startFor(sup, a.name);
    const first = login(r.port, a.name, testAccounts.alice.password);
    const desktop = await desktopOf(a, r);
    expect(desktop).toBeDefined();
    const display = desktop?.[0] as number;
    const xorg = desktopProcesses(blockOf(r)).find((p) => p.cmdline.includes(`:${display}`));
    expect(xorg).toBeDefined();
    process.kill(xorg?.pid as number, "SIGKILL");
    first.close();
    // SIGKILL leaves the X lock; the health check removes it once no X server holds the display.
    const lock = `/tmp/.X${display}-lock`;
    await until(
      () => existsSync(lock) || existsSync(`/tmp/.X11-unix/X${display}`),
      (v) => !v,
    );
    expect(existsSync(lock)).toBe(false);
    clearDesktopProofs(a);
    login(r.port, a.name, testAccounts.alice.password);
    expect((await desktopOf(a, r))?.[0]).toBe(display);
    await sup.stop(r.id);
    await sup.close(true);
  }, 90_000);

  it("refuses root and names that xrdp would read as a prompt as owners", async () => {
    const { sup } = makeSupervisor();
    for (const owner of ["root", "askme", "Alice", "bob@corp"]) {
      await expect(
        sup.start({
          requestId: randomUUID(),
          serverId: "",
          owner,
          port: await freePort(),
          settings: {},
        }),
      ).rejects.toBeInstanceOf(OwnerNotAllowedError);
    }
    await sup.close(true);
  });

  it("keeps a connected desktop when the service restarts, and adopts it", async () => {
    const a = alice as Account;
    clearDesktopProofs(a);
    const first = makeSupervisor();
    const r = await startFor(first.sup, a.name);
    const client = login(r.port, a.name, testAccounts.alice.password);
    expect(await desktopOf(a, r)).toBeDefined();
    const before = desktopPids(r);
    // The service goes away without stopping its instances (what SIGTERM with
    // XRDP_STOP_ON_SHUTDOWN=false and kill -9 both leave).
    await first.sup.close(false);
    const second = makeSupervisor({ store: first.store, stateDir: first.stateDir });
    const rec = await second.sup.reconcile();
    expect(rec.adopted).toContain(r.id);
    expect(rec.strays).toEqual([]);
    // The same desktop processes, and the client still connected.
    expect(desktopPids(r)).toEqual(before);
    expect(client.process.exitCode).toBeNull();
    const adopted = await second.sup.waitSettled(r.id, 10_000);
    expect(adopted.state).toBe("READY");
    await second.sup.stop(r.id);
    expect(desktopProcesses(blockOf(r))).toEqual([]);
    await second.sup.close(true);
  }, 90_000);

  it("keeps a connected desktop through SIGTERM and kill -9 of the service, which adopts it", async () => {
    const a = alice as Account;
    clearDesktopProofs(a);
    const mongo: RealServer = await startMongoWire();
    const dir = mkdtempSync(join(tmpdir(), "xrdp-desk-svc-"));
    const env = {
      PORT: "0",
      LOG_LEVEL: "info",
      XRDP_STATE_DIR: dir,
      XRDP_BIN: xrdpBin ?? "",
      XRDP_DISPLAY_RANGE: `${displayRange.first}-${displayRange.last}`,
      XRDP_CONNECTION_POLL_MS: "200",
      MONGODB_URI: mongo.url,
      MONGODB_DB: `desk_${randomUUID().slice(0, 8)}`,
      // XRDP_STOP_ON_SHUTDOWN unset: with MONGODB_URI, shutdown leaves desktops to be adopted.
    };
    const main = `${repoRoot}services/xrdp-integration/src/main.ts`;
    let svc: ChildServer | undefined = await spawnService(main, env);
    try {
      const c = () =>
        createNodeClient(XrdpIntegrationService, { baseUrl: (svc as ChildServer).url });
      // While the restarted service connects to its database, reads answer UNAVAILABLE.
      const read = async (id: string) => {
        try {
          return (await c().getInstance({ instanceId: id })).instance;
        } catch {
          return undefined;
        }
      };
      await until(
        async () => (await fetch(`${svc?.url}/readyz`)).status,
        (s) => s === 200,
        20_000,
      );
      const inst = (
        await c().startInstance({
          requestId: randomUUID(),
          owner: a.name,
          port: await freePort(),
          waitTimeout: { seconds: 20n },
        })
      ).instance;
      expect(inst?.state, inst?.stateMessage).toBe(InstanceState.READY);
      const r = {
        displayFirst: inst?.displayFirst,
        displayCount: inst?.displayCount,
      } as InstanceRecord;
      const client = login(inst?.port ?? 0, a.name, testAccounts.alice.password);
      expect(await desktopOf(a, r)).toBeDefined();
      const connected = await until(
        () => read(inst?.id ?? ""),
        (i) => (i?.activeDisplays.length ?? 0) > 0,
      );
      expect(connected?.activeDisplays.length).toBe(1);
      const desktop = desktopPids(r);
      expect(desktop.length).toBeGreaterThan(2);

      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        svc.kill(signal);
        await svc.exited;
        svc = undefined;
        expect(desktopPids(r), signal).toEqual(desktop);
        expect(client.process.exitCode, signal).toBeNull();
        svc = await spawnService(main, env);
        const again = await until(
          () => read(inst?.id ?? ""),
          (i) => i?.state === InstanceState.READY && (i.activeDisplays.length ?? 0) > 0,
        );
        expect(again?.state, signal).toBe(InstanceState.READY);
        expect(again?.pid, signal).toBe(inst?.pid);
        expect(again?.sesmanPid, signal).toBe(inst?.sesmanPid);
        expect(desktopPids(r), signal).toEqual(desktop);
      }
      await c().stopInstance({ instanceId: inst?.id ?? "" });
      expect(desktopProcesses(blockOf(r))).toEqual([]);
      await client.exited;
    } finally {
      svc?.kill("SIGKILL");
      await svc?.exited;
      // Whatever a failed run left: the xrdp and sesman process groups of this state directory.
      for (const p of findProcesses((p) => p.cmdline.some((x) => x.startsWith(`${dir}/`)))) {
        try {
          process.kill(-p.stat.pgrp, "SIGKILL");
        } catch {
          // gone
        }
      }
      await mongo.close();
    }
  }, 120_000);

  it("leaves no stale display files after 30 desktops in a row, and the 31st logs in", async () => {
    const a = alice as Account;
    const { sup } = makeSupervisor();
    for (let i = 0; i < 31; i++) {
      clearDesktopProofs(a);
      const r = await startFor(sup, a.name);
      const client = login(r.port, a.name, testAccounts.alice.password);
      const desktop = await desktopOf(a, r);
      expect(desktop, `desktop ${i + 1}: ${client.output()}`).toBeDefined();
      // Ended hard: SIGKILL leaves X's lock and socket behind unless the service removes them.
      await sup.stop(r.id, { force: true });
      client.close();
      expect(desktopProcesses(blockOf(r)), `desktop ${i + 1}`).toEqual([]);
      expect(displayFiles(r), `desktop ${i + 1}`).toEqual([]);
    }
    await sup.close(true);
  }, 400_000);
});
