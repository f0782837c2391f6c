/**
 * The supervisor against REAL xrdp (Debian's package): readiness by the RDP probe, side-by-side
 * instances, restart after kill -9, crash loop, stop, port in use, and reconciliation after a
 * crash of the service (adopt, mark missing, kill strays, touch nothing else).
 */
import { spawn } from "node:child_process";
import { randomUUID, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findProcesses, readProcStat } from "@lucid-rdp/proc";
import { createLogger } from "@lucid-rdp/runtime";
import {
  BackendUnavailableError,
  createMemoryCoordination,
  createMemoryStores,
} from "@lucid-rdp/storage";
import { findTool, waitFor } from "@lucid-rdp/testing";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { instancePaths } from "../src/domain/instance-paths.js";
import { buildPolicy } from "../src/domain/policy.js";
import { probeRdp } from "../src/host/rdp-probe.js";
import { generateInstanceKey } from "../src/host/tls-material-files.js";
import type { InstanceRecord } from "../src/store/records.js";
import { xrdpIntegrationSpecs } from "../src/store/specs.js";
import {
  InstanceSupervisor,
  PortInUseError,
  portIsFree,
  type SupervisorOptions,
  XrdpUnavailableError,
} from "../src/supervisor/instance-supervisor.js";
import { testTimings } from "./support/test-timings.js";

const xrdpBin =
  findTool("xrdp", "apt-get install -y xrdp") ??
  (statOk("/usr/sbin/xrdp") ? "/usr/sbin/xrdp" : undefined);
const logger = createLogger({ service: "test", level: "silent" });
const { defaults, floor } = buildPolicy({ allowRdpSecurity: false, allowRootLogin: false });
const supervisors: InstanceSupervisor[] = [];

function statOk(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s: Server = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function makeSupervisor(over: Partial<SupervisorOptions> = {}) {
  const stores = over.store ? undefined : createMemoryStores(xrdpIntegrationSpecs);
  const stateDir = over.stateDir ?? mkdtempSync(join(tmpdir(), "xrdp-sup-"));
  const sup = new InstanceSupervisor({
    ...baseOptions(
      over.store ?? (stores?.instances as SupervisorOptions["store"]),
      over.bus ?? createMemoryCoordination().bus,
      stateDir,
    ),
    ...over,
  });
  supervisors.push(sup);
  return { sup, stateDir, store: over.store ?? stores?.instances };
}

/** Polls `fn` until `ok` holds for its value (waitFor of @lucid-rdp/testing, 50 ms apart). */
const until = <T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> =>
  waitFor(`a value for which ${ok.toString()} holds`, fn, {
    until: ok,
    timeoutMs: ms,
    intervalMs: 50,
  });

const ourXrdp = (stateDir: string) =>
  findProcesses(
    (p) => p.cmdline.some((a) => a.startsWith(`${stateDir}/`)) && p.pid === p.stat.pgrp,
  );

async function startReady(sup: InstanceSupervisor): Promise<InstanceRecord> {
  const port = await freePort();
  const started = await sup.start({
    requestId: randomUUID(),
    serverId: randomUUID(),
    port,
    owner: "lucidtest",
    settings: {},
  });
  return sup.waitSettled(started.id, 15_000);
}

afterEach(async () => {
  for (const s of supervisors.splice(0)) await s.close(true);
});

describe("InstanceSupervisor with real xrdp", () => {
  if (xrdpBin === undefined) {
    it("needs xrdp (apt-get install -y xrdp)", (ctx) => ctx.skip());
    return;
  }

  it("reports READY only once the port answers the RDP probe, with the security defaults", async () => {
    const { sup, stateDir } = makeSupervisor();
    const r = await startReady(sup);
    expect(r.state).toBe("READY");
    expect(r.pid).toBeGreaterThan(0);
    expect(r.tlsCertSha256).toMatch(/^[0-9a-f]{64}$/);
    const probe = await probeRdp("127.0.0.1", r.port, { timeoutMs: 3_000 });
    expect(probe).toMatchObject({ ok: true, selectedProtocol: "tls" });
    const dir = join(stateDir, r.id);
    const ini = readFileSync(instancePaths(stateDir, r.id).xrdpIni, "utf8");
    expect(ini).toMatch(/^security_layer=tls$/m);
    expect(ini).toMatch(/^ssl_protocols=TLSv1\.2, TLSv1\.3$/m);
    expect(ini).toMatch(/^tls_ciphers=\S+/m);
    expect(statSync(instancePaths(stateDir, r.id).xrdpIni).mode & 0o777).toBe(0o600);
    const keyFile = readdirSync(join(dir, "tls")).find((f) => f.includes("key"));
    expect(statSync(join(dir, "tls", keyFile as string)).mode & 0o777).toBe(0o600);
  });

  it("writes again the pid a READY record lost (an outage cut its write): reconcile repairs it", async () => {
    const { sup, store } = makeSupervisor();
    const r = await startReady(sup);
    const pid = r.pid as number;
    // The record as a lost write leaves it: READY, without the pid of the xrdp that runs.
    const current = await (store as SupervisorOptions["store"]).get(r.id);
    await (store as SupervisorOptions["store"]).update(r.id, current.version, {
      pid: undefined,
      pidStartTicks: undefined,
    });
    expect((await sup.instances.get(r.id)).pid).toBeUndefined();
    await sup.reconcile();
    const repaired = await sup.instances.get(r.id);
    expect(repaired.state).toBe("READY");
    expect(repaired.pid).toBe(pid);
    expect(repaired.pidStartTicks).toBe(r.pidStartTicks);
  });

  it("runs two instances side by side on different ports", async () => {
    const { sup, stateDir } = makeSupervisor();
    const [a, b] = await Promise.all([startReady(sup), startReady(sup)]);
    expect(a?.state).toBe("READY");
    expect(b?.state).toBe("READY");
    expect(a?.port).not.toBe(b?.port);
    expect(ourXrdp(stateDir)).toHaveLength(2);
  });

  it("takes each instance's TLS key from the pool, and generates its own when the pool is empty", async () => {
    const pooled = await generateInstanceKey();
    const pool = [pooled];
    const { sup, stateDir } = makeSupervisor({ keyPool: { take: () => pool.shift() } });
    const a = await startReady(sup);
    const b = await startReady(sup);
    expect([a.state, b.state]).toEqual(["READY", "READY"]);
    const certOf = (r: InstanceRecord) =>
      new X509Certificate(readFileSync(join(stateDir, r.id, "tls", "cert.pem")));
    expect(certOf(a).checkPrivateKey(pooled)).toBe(true);
    // The pool was empty for the second: a key of its own, never the first instance's.
    expect(certOf(b).checkPrivateKey(pooled)).toBe(false);
    expect(b.tlsCertSha256).not.toBe(a.tlsCertSha256);
    expect(await probeRdp("127.0.0.1", b.port, { timeoutMs: 3_000 })).toMatchObject({
      ok: true,
      selectedProtocol: "tls",
    });
  });

  it("waitSettled() re-reads the instance when its events arrive, and every second without them", async () => {
    // Counts the reads of the wait itself (the only ones made with its signal).
    const counted = (inner: SupervisorOptions["store"], signal: AbortSignal) => {
      const reads = { n: 0 };
      const store = new Proxy(inner, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (prop !== "get" || typeof v !== "function") return v;
          return (id: string, opts?: { signal?: AbortSignal }) => {
            if (opts?.signal === signal) reads.n++;
            return (v as (...a: unknown[]) => unknown).call(target, id, opts);
          };
        },
      });
      return { store, reads };
    };
    const start = async (sup: InstanceSupervisor, signal: AbortSignal) => {
      const started = await sup.start({
        requestId: randomUUID(),
        serverId: randomUUID(),
        port: await freePort(),
        owner: "lucidtest",
        settings: {},
      });
      const t0 = Date.now();
      const r = await sup.waitSettled(started.id, 15_000, signal);
      return { r, ms: Date.now() - t0 };
    };

    // Woken by events: a read at the start, one per event about the instance (its spawn, READY),
    // and at most one per second besides.
    const woken = new AbortController();
    const a = counted(
      createMemoryStores(xrdpIntegrationSpecs).instances as SupervisorOptions["store"],
      woken.signal,
    );
    const first = await start(makeSupervisor({ store: a.store }).sup, woken.signal);
    expect(first.r.state).toBe("READY");
    expect(a.reads.n).toBeLessThanOrEqual(3 + Math.ceil(first.ms / 1_000));

    // No instance events at all (as when the bus lost them): READY all the same, from the re-reads.
    const memoryBus = createMemoryCoordination().bus;
    const silentBus = new Proxy(memoryBus, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== "publish" || typeof v !== "function") return v;
        return async () => "0-0";
      },
    });
    const lost = new AbortController();
    const b = counted(
      createMemoryStores(xrdpIntegrationSpecs).instances as SupervisorOptions["store"],
      lost.signal,
    );
    const second = await start(makeSupervisor({ store: b.store, bus: silentBus }).sup, lost.signal);
    expect(second.r.state).toBe("READY");
    expect(b.reads.n).toBeGreaterThanOrEqual(2);
  });

  it("survives a store outage while recording READY: retried, and the instance ends READY", async () => {
    const inner = createMemoryStores(xrdpIntegrationSpecs).instances as SupervisorOptions["store"];
    let refused = 0;
    // The store refuses the READY write twice, as Mongo does while it fails over.
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== "update" || typeof v !== "function") return v;
        return (id: string, version: number, changes: { state?: string }) => {
          if (changes.state === "READY" && refused < 2) {
            refused++;
            return Promise.reject(new BackendUnavailableError("mongodb", new Error("failover")));
          }
          return (v as (...a: unknown[]) => unknown).call(target, id, version, changes);
        };
      },
    });
    const { sup } = makeSupervisor({ store });
    const r = await startReady(sup);
    expect(refused).toBe(2);
    expect(r.state).toBe("READY");
    expect(await probeRdp("127.0.0.1", r.port, { timeoutMs: 3_000 })).toMatchObject({ ok: true });
  });

  it("leaves an instance it is starting to itself when a reconcile runs meanwhile", async () => {
    const inner = createMemoryStores(xrdpIntegrationSpecs).instances as SupervisorOptions["store"];
    let inserted: () => void = () => undefined;
    const insertedP = new Promise<void>((r) => {
      inserted = r;
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => {
      release = r;
    });
    // The record is stored STARTING, and its pid is written only once the reconcile has listed it:
    // the service's first moments, when reconcile waits for the stores while creates arrive.
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== "function") return v;
        if (prop === "insert") {
          return async (...a: unknown[]) => {
            const r = await (v as (...x: unknown[]) => Promise<unknown>).apply(target, a);
            inserted();
            return r;
          };
        }
        if (prop === "update") {
          return async (...a: unknown[]) => {
            await released;
            return (v as (...x: unknown[]) => unknown).apply(target, a);
          };
        }
        return v;
      },
    });
    const { sup } = makeSupervisor({ store });
    const starting = startReady(sup);
    await insertedP;
    const reconciling = sup.reconcile();
    await new Promise((r) => setTimeout(r, 100));
    release();
    const rec = await reconciling;
    expect(rec.missing).toEqual([]);
    expect(rec.strays).toEqual([]);
    expect((await starting).state).toBe("READY");
  });

  it("restarts an instance killed with SIGKILL and brings it back to READY", async () => {
    const { sup, store } = makeSupervisor();
    const r = await startReady(sup);
    process.kill(r.pid as number, "SIGKILL");
    const back = await until(
      () => (store as NonNullable<typeof store>).get(r.id),
      (x) => x.state === "READY" && x.pid !== r.pid,
    );
    expect(back.state).toBe("READY");
    expect(back.restartCount).toBe(1);
    expect(back.lastExit?.signal).toBe("SIGKILL");
  });

  it("marks a crash loop FAILED", async () => {
    const { sup, store } = makeSupervisor({ crashLoopExits: 3 });
    const r = await startReady(sup);
    let last = r;
    for (let i = 0; i < 3; i++) {
      last = await until(
        () => (store as NonNullable<typeof store>).get(r.id),
        (x) => (x.state === "READY" || x.state === "STARTING") && x.pid !== undefined,
      );
      if (last.state === "FAILED") break;
      try {
        process.kill(last.pid as number, "SIGKILL");
      } catch {
        // exited already
      }
      await until(
        () => (store as NonNullable<typeof store>).get(r.id),
        (x) => x.pid !== last.pid,
      );
    }
    const failed = await until(
      () => (store as NonNullable<typeof store>).get(r.id),
      (x) => x.state === "FAILED",
    );
    expect(failed).toMatchObject({ state: "FAILED", stateReason: "CRASH_LOOP" });
  });

  it("stops an instance: no xrdp process left and the port bindable", async () => {
    const { sup, stateDir } = makeSupervisor();
    const r = await startReady(sup);
    const stopped = await sup.stop(r.id);
    expect(stopped).toMatchObject({ state: "STOPPED", stateReason: "STOP_REQUESTED" });
    expect(ourXrdp(stateDir)).toHaveLength(0);
    expect(await portIsFree("127.0.0.1", r.port)).toBe(true);
    expect(readProcStat(r.pid as number)?.startTicks).not.toBe(r.pidStartTicks);
  });

  it("refuses a port in use with nothing left behind", async () => {
    const { sup, stateDir, store } = makeSupervisor();
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", r));
    try {
      await expect(
        sup.start({
          requestId: randomUUID(),
          serverId: randomUUID(),
          port,
          settings: {},
          owner: "lucidtest",
        }),
      ).rejects.toBeInstanceOf(PortInUseError);
      expect(readdirSync(stateDir)).toEqual([]);
      expect(await (store as NonNullable<typeof store>).count()).toBe(0);
    } finally {
      blocker.close();
    }
  });

  it("refuses to start without xrdp, naming why", async () => {
    const { sup } = makeSupervisor({
      xrdpBin: undefined,
      xrdpMissingReason: "XRDP_BIN=/nope is not an executable file",
    });
    await expect(
      sup.start({
        requestId: randomUUID(),
        serverId: randomUUID(),
        port: await freePort(),
        owner: "lucidtest",
        settings: {},
      }),
    ).rejects.toBeInstanceOf(XrdpUnavailableError);
  });

  describe("reconcile()", () => {
    const strays: number[] = [];
    afterAll(() => {
      for (const pid of strays) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    });

    it("adopts live instances without duplicating them, fails missing ones, kills only our strays", async () => {
      const stores = createMemoryStores(xrdpIntegrationSpecs);
      const bus = createMemoryCoordination().bus;
      const stateDir = mkdtempSync(join(tmpdir(), "xrdp-rec-"));
      // The first life of the service starts an instance, then "crashes" (nothing is stopped).
      const first = new InstanceSupervisor({ ...baseOptions(stores.instances, bus, stateDir) });
      const live = await startReady(first);
      await first.close(false);
      // A record whose process is gone, as after a reboot.
      const gone = await stores.instances.insert({
        id: randomUUID(),
        serverId: randomUUID(),
        port: await freePort(),
        state: "READY",
        restartCount: 0,
        owner: "lucidtest",
        settings: {},
        pid: live.pid,
        pidStartTicks: 1, // a recycled pid: same number, other process
      });
      // A stray xrdp with our marker, unknown to the store.
      const strayDir = join(stateDir, randomUUID());
      const strayIni = readFileSync(instancePaths(stateDir, live.id).xrdpIni, "utf8").replace(
        new RegExp(`${live.port}`, "g"),
        String(await freePort()),
      );
      const { mkdirSync, writeFileSync } = await import("node:fs");
      mkdirSync(strayDir, { recursive: true });
      writeFileSync(join(strayDir, "xrdp.ini"), strayIni);
      const stray = spawn(
        xrdpBin as string,
        ["--nodaemon", "--config", join(strayDir, "xrdp.ini")],
        {
          detached: true,
          stdio: "ignore",
        },
      );
      strays.push(stray.pid as number);
      // And a process that is not ours at all.
      const bystander = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
      strays.push(bystander.pid as number);
      await new Promise((r) => setTimeout(r, 300));

      const second = new InstanceSupervisor({ ...baseOptions(stores.instances, bus, stateDir) });
      supervisors.push(second);
      const result = await second.reconcile();
      expect(result.adopted).toEqual([live.id]);
      expect(result.missing).toEqual([gone.id]);
      expect(result.strays).toEqual([stray.pid]);
      // Its folder (a key would be there) goes too: no record names it.
      expect(result.folders).toEqual([strayDir.slice(stateDir.length + 1)]);
      expect(readdirSync(stateDir)).toEqual([live.id]);
      expect((await stores.instances.get(gone.id)).stateReason).toBe("PROCESS_MISSING");
      const adopted = await until(
        () => stores.instances.get(live.id),
        (x) => x.state === "READY",
      );
      expect(adopted.pid).toBe(live.pid); // the same process, not a new one
      // SIGKILL is delivered asynchronously: give the stray a moment to be gone.
      const left = await until(
        async () => ourXrdp(stateDir).map((p) => p.pid),
        (pids) => pids.length === 1,
        5_000,
      );
      expect(left).toEqual([live.pid]);
      expect(readProcStat(bystander.pid as number)).toBeDefined();
      // An adopted instance is still supervised: killing it restarts it.
      process.kill(live.pid as number, "SIGKILL");
      const restarted = await until(
        () => stores.instances.get(live.id),
        (x) => x.state === "READY" && x.pid !== live.pid,
      );
      expect(restarted.restartCount).toBe(1);
    });

    it("adopts an xrdp whose pid never reached its record, and starts one whose insert's answer was lost", async () => {
      const stores = createMemoryStores(xrdpIntegrationSpecs);
      const inner = stores.instances as SupervisorOptions["store"];
      const bus = createMemoryCoordination().bus;
      const stateDir = mkdtempSync(join(tmpdir(), "xrdp-rec-"));
      let loseInsertAnswer = false;
      // The first life dies while writing a pid (the write never ends), and sees an insert that
      // landed fail as if the database had gone away.
      const store = new Proxy(inner, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as (...a: unknown[]) => Promise<unknown>;
          if (prop === "update") {
            return (id: string, version: number, changes: { pid?: number }) =>
              changes.pid !== undefined
                ? new Promise(() => {})
                : v.call(target, id, version, changes);
          }
          if (prop === "insert") {
            return async (...a: unknown[]) => {
              const r = await v.apply(target, a);
              if (loseInsertAnswer)
                throw new BackendUnavailableError("mongodb", new Error("reset"));
              return r;
            };
          }
          return v;
        },
      });
      const request = async () => ({
        requestId: randomUUID(),
        serverId: randomUUID(),
        port: await freePort(),
        owner: "lucidtest",
        settings: {},
      });
      const first = new InstanceSupervisor(baseOptions(store, bus, stateDir));
      const reqA = await request();
      const a = await first.start(reqA);
      const [spawned] = await until(
        async () => ourXrdp(stateDir),
        (ps) => ps.length === 1,
      );
      expect((await inner.get(a.id)).pid).toBeUndefined();
      loseInsertAnswer = true;
      const reqB = await request();
      await expect(first.start(reqB)).rejects.toBeInstanceOf(BackendUnavailableError);
      expect(ourXrdp(stateDir)).toHaveLength(1); // B stored, never spawned
      await first.close(false); // the crash: nothing is stopped

      const second = new InstanceSupervisor(baseOptions(inner, bus, stateDir));
      supervisors.push(second);
      const rec = await second.reconcile();
      expect(rec).toMatchObject({ adopted: [a.id], missing: [], strays: [] });
      expect(rec.started).toHaveLength(1);
      // Retries with the same request ids get the same instances: the adopted xrdp, and B's.
      expect((await second.start(reqA)).id).toBe(a.id);
      expect((await second.start(reqB)).id).toBe(rec.started[0]);
      const ra = await second.waitSettled(a.id, 15_000);
      const rb = await second.waitSettled(rec.started[0] as string, 15_000);
      expect([ra.state, rb.state]).toEqual(["READY", "READY"]);
      expect(ra.pid).toBe(spawned?.pid);
      expect(
        ourXrdp(stateDir)
          .map((p) => p.pid)
          .sort(),
      ).toEqual([ra.pid, rb.pid].sort());
    });

    it("stops an instance of an earlier life asked to stop before any reconcile: its xrdp goes too", async () => {
      const stores = createMemoryStores(xrdpIntegrationSpecs);
      const bus = createMemoryCoordination().bus;
      const stateDir = mkdtempSync(join(tmpdir(), "xrdp-rec-"));
      const first = new InstanceSupervisor(baseOptions(stores.instances, bus, stateDir));
      const r = await startReady(first);
      await first.close(false); // a crash
      const second = new InstanceSupervisor(baseOptions(stores.instances, bus, stateDir));
      supervisors.push(second);
      expect(await second.stop(r.id)).toMatchObject({ state: "STOPPED" });
      expect(ourXrdp(stateDir).filter((p) => p.stat.state !== "Z")).toEqual([]);
      expect(await portIsFree("127.0.0.1", r.port)).toBe(true);
    });

    it("gives 20 concurrent calls with one request id one instance, and refuses the id with other parameters", async () => {
      const { sup, stateDir } = makeSupervisor();
      const req = {
        requestId: randomUUID(),
        serverId: randomUUID(),
        port: await freePort(),
        owner: "lucidtest",
        settings: {},
      };
      const all = await Promise.all(Array.from({ length: 20 }, () => sup.start(req)));
      expect(new Set(all.map((r) => r.id)).size).toBe(1);
      await expect(sup.start({ ...req, port: req.port + 1 })).rejects.toThrow(/port/);
      expect((await sup.waitSettled(all[0]?.id as string, 15_000)).state).toBe("READY");
      expect(ourXrdp(stateDir)).toHaveLength(1);
    });
  });
});

function baseOptions(
  store: SupervisorOptions["store"],
  bus: SupervisorOptions["bus"],
  stateDir: string,
): SupervisorOptions {
  return {
    store,
    bus,
    logger,
    xrdpBin,
    stateDir,
    listenAddress: "127.0.0.1",
    maxInstances: 8,
    defaults,
    floor,
    ...testTimings,
  };
}
