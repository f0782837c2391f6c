/**
 * Runs and supervises xrdp instances: one `xrdp --nodaemon --port tcp://ADDR:P --config <ini>`
 * process per instance, each in its own process group, READY only once its port answers the RDP
 * X.224 probe. Unexpected exits restart with exponential backoff; a crash loop marks the instance
 * FAILED. Stop sends SIGTERM, then SIGKILL to the group after a grace time, and checks the port is
 * bindable again. At start, stored instances are reconciled with the process table: live ones are
 * adopted (pid AND start time), missing ones marked FAILED, strays carrying our marker (a config
 * path inside our state directory) killed, and nothing else touched.
 *
 * Every state change is stored (optimistic concurrency) and published on the bus.
 */
import { type KeyObject, randomUUID } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@lucid-rdp/runtime";
import type {
  EventBus,
  InstanceRecord,
  InstanceState,
  InstanceStateReason,
  InstanceStore,
} from "@lucid-rdp/storage";
import {
  BackendUnavailableError,
  BusWakeups,
  liveInstanceStates,
  WAKEUP_RECHECK_MS,
} from "@lucid-rdp/storage";
import type { DisplayRange } from "../domain/display-blocks.js";
import { instancePaths, renderXrdpIni } from "../domain/ini.js";
import { certificateSha256, ensureTlsMaterial, writeFileAtomic } from "../domain/tls-material.js";
import {
  type EffectiveSettings,
  resolveSettings,
  type SecurityFloor,
  type ServiceDefaults,
  type XrdpSettings,
} from "../domain/xrdp-settings.js";
import { findProcesses } from "../host/proc-stat.js";
import { probeRdp, probeUntilReady } from "../host/rdp-probe.js";
import type { DisplayFileRoots } from "../host/x-displays.js";
import { type DesktopAllocation, InstanceDesktops } from "./instance-desktops.js";
import { portIsFree } from "./port-free.js";
import {
  adoptProcess,
  type ProcessExitInfo,
  type ProcessHandle,
  spawnProcess,
} from "./process-handle.js";
import type { SockdirNamespace } from "./sockdir-namespace.js";

export { DisplaysExhaustedError } from "./instance-desktops.js";
export { portIsFree } from "./port-free.js";

/** Thrown when xrdp is not installed or XRDP_BIN does not point at it. */
export class XrdpUnavailableError extends Error {
  override readonly name = "XrdpUnavailableError";
  constructor(readonly reason: string) {
    super(`xrdp cannot be started: ${reason}`);
  }
}

/** Thrown when the requested port is already taken on this host. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(readonly port: number) {
    super(`port ${port} is already in use on this host`);
  }
}

/** Thrown when the host runs as many instances as it may. */
export class CapacityExceededError extends Error {
  override readonly name = "CapacityExceededError";
  constructor(readonly max: number) {
    super(`this host already runs its maximum of ${max} instances (XRDP_MAX_INSTANCES)`);
  }
}

/** Thrown when the account a StartInstance names may not own a desktop here. */
export class OwnerNotAllowedError extends Error {
  override readonly name = "OwnerNotAllowedError";
  constructor(
    readonly owner: string,
    readonly reason: string,
  ) {
    super(`owner ${JSON.stringify(owner)}: ${reason}`);
  }
}

/** Thrown when an instance cannot be stopped because it already ended. */
export class InstanceEndedError extends Error {
  override readonly name = "InstanceEndedError";
  constructor(
    readonly id: string,
    readonly state: InstanceState,
  ) {
    super(`instance ${id} is ${state}`);
  }
}

export interface SupervisorOptions {
  readonly store: InstanceStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Absolute path of xrdp, or undefined when it was not found (with the reason). */
  readonly xrdpBin: string | undefined;
  readonly xrdpMissingReason?: string;
  /** Instance directories live under it; it is also the marker of our processes. */
  readonly stateDir: string;
  /** The IPv4 address instances listen on. */
  readonly listenAddress: string;
  readonly maxInstances: number;
  readonly defaults: ServiceDefaults;
  readonly floor: SecurityFloor;
  /** Certificate and key every instance uses, instead of generating its own. */
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  /**
   * Keys generated ahead of time (XRDP_TLS_KEY_POOL) for instances that get a certificate of
   * their own; each key taken is used by that instance only. Without one, or when it is empty, the
   * instance generates its key while it starts.
   */
  readonly keyPool?: { take(): KeyObject | undefined };
  readonly readinessTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly restartBackoffMs: number;
  readonly maxRestartBackoffMs: number;
  readonly crashLoopExits: number;
  readonly crashLoopWindowMs: number;
  readonly healthIntervalMs: number;
  /**
   * xrdp-sesman, run once per instance (XRDP_SESMAN=managed); undefined uses the host's own sesman
   * at 127.0.0.1 (XRDP_SESMAN=off), whose desktops the service does not own.
   */
  readonly sesmanBin?: string;
  /** The port xrdp finds sesman on (ListenPort of /etc/xrdp/sesman.ini). @default 3350 */
  readonly sesmanPort?: number;
  /** The X displays instances' desktops may use. @default 10 to 299 */
  readonly displayRange?: DisplayRange;
  /** Where X and xrdp keep per-display files. @default /tmp and /run/xrdp */
  readonly displayFiles?: DisplayFileRoots;
  /**
   * The installed xrdp's version (`xrdp --version`). From 0.10 on, each instance's xrdp and sesman
   * run in a mount namespace with a socket directory of the instance's own (sockdir-namespace.ts).
   * @default 0.9
   */
  readonly xrdpVersion?: string;
  /** How that namespace is made (tests point at other binaries). */
  readonly namespace?: SockdirNamespace;
  /**
   * Wakes {@link InstanceSupervisor.waitSettled} on the instance events of `bus`.
   * @default wake-ups of its own on `bus`, started at the first wait and ended by close()
   */
  readonly wakeups?: BusWakeups;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export interface StartRequest {
  readonly requestId: string;
  readonly serverId: string;
  /** The one local account whose desktop logins the instance admits. */
  readonly owner: string;
  readonly port: number;
  readonly settings: XrdpSettings;
}

/** What the supervisor keeps in memory per instance, beside the stored record. */
interface Live {
  handle?: ProcessHandle;
  /** The instance's own xrdp-sesman, when the service runs one per instance. */
  sesman?: ProcessHandle;
  exits: number[];
  restartTimer?: NodeJS.Timeout;
  healthTimer?: NodeJS.Timeout;
  probeFailures: number;
  stopping: boolean;
  /** Serializes the record updates of one instance. */
  chain: Promise<unknown>;
}

const busyStates: ReadonlySet<InstanceState> = new Set(liveInstanceStates);

export class InstanceSupervisor {
  private readonly live = new Map<string, Live>();
  private readonly now: () => Date;
  private readonly wakeups: BusWakeups;
  private readonly ownWakeups: boolean;
  private closed = false;
  private readonly desktops: InstanceDesktops;

  constructor(private readonly opts: SupervisorOptions) {
    this.now = opts.now ?? (() => new Date());
    this.ownWakeups = opts.wakeups === undefined;
    this.desktops = new InstanceDesktops({
      store: opts.store,
      logger: opts.logger,
      stateDir: opts.stateDir,
      defaultMaxSessions: opts.defaults.maxSessions,
      sesmanBin: opts.sesmanBin,
      sesmanPort: opts.sesmanPort,
      displayRange: opts.displayRange,
      displayFiles: opts.displayFiles,
      xrdpVersion: opts.xrdpVersion,
      namespace: opts.namespace,
    });
    this.wakeups =
      opts.wakeups ??
      new BusWakeups({
        bus: opts.bus,
        family: "instance",
        onError: (err, retryInMs) =>
          opts.logger.warn({ err, retryInMs }, "instance events not followed: waits re-read"),
      });
  }

  /** Whether xrdp can be started at all, and why not. */
  availability(): { ok: true } | { ok: false; reason: string } {
    if (this.opts.xrdpBin === undefined) {
      return { ok: false, reason: this.opts.xrdpMissingReason ?? "xrdp not found" };
    }
    return { ok: true };
  }

  /** Live instance count (STARTING, READY, RESTARTING, STOPPING). */
  async liveCount(): Promise<number> {
    return this.opts.store.count({ state: { in: [...liveInstanceStates] } });
  }

  /**
   * Validates, renders and writes the instance's config, stores it STARTING and spawns xrdp.
   * Invalid settings or values are rejected before anything is written.
   */
  async start(req: StartRequest): Promise<InstanceRecord> {
    const bin = this.opts.xrdpBin;
    if (bin === undefined)
      throw new XrdpUnavailableError(this.opts.xrdpMissingReason ?? "not found");
    const effective: EffectiveSettings = resolveSettings(
      req.settings,
      this.opts.defaults,
      this.opts.floor,
    );
    checkOwner(req.owner, effective.allowRootLogin);
    return this.startAllocated(req, bin, effective);
  }

  private async startAllocated(
    req: StartRequest,
    bin: string,
    effective: EffectiveSettings,
  ): Promise<InstanceRecord> {
    if ((await this.liveCount()) >= this.opts.maxInstances) {
      throw new CapacityExceededError(this.opts.maxInstances);
    }
    if (!(await portIsFree(this.opts.listenAddress, req.port))) throw new PortInUseError(req.port);
    const id = randomUUID();
    // The block is held in memory until the record holds it.
    const desktop = await this.desktops.choose(id, effective.maxSessions);
    try {
      return await this.startChosen(req, bin, effective, id, desktop);
    } finally {
      this.desktops.settle(id);
    }
  }

  private async startChosen(
    req: StartRequest,
    bin: string,
    effective: EffectiveSettings,
    id: string,
    desktop: DesktopAllocation | undefined,
  ): Promise<InstanceRecord> {
    const paths = instancePaths(this.opts.stateDir, id);
    const dir = paths.dir;
    // Certificate and key: the request's (checked against the floor's TLS_DIR), the service's
    // (XRDP_TLS_CERT/KEY), or generated for this instance.
    const given =
      effective.tlsCertPath !== "" && effective.tlsKeyPath !== ""
        ? { certPath: effective.tlsCertPath, keyPath: effective.tlsKeyPath }
        : this.opts.tls;
    const certPath = given?.certPath ?? join(paths.tlsDir, "cert.pem");
    const keyPath = given?.keyPath ?? join(paths.tlsDir, "key.pem");
    const settings: EffectiveSettings = {
      ...effective,
      tlsCertPath: certPath,
      tlsKeyPath: keyPath,
    };
    // Render first: a value xrdp's INI cannot carry safely throws here, before any file exists.
    const ini = renderXrdpIni({
      instanceId: id,
      instanceDir: dir,
      listenAddress: this.opts.listenAddress,
      port: req.port,
      settings,
      owner: req.owner,
      sesmanAddress: desktop?.sesmanAddress ?? "127.0.0.1",
    });
    // A block is clean when it is handed out: no desktop or stale file of an earlier life.
    if (desktop) await this.desktops.prepare(dir, desktop, settings);

    let record: InstanceRecord;
    // Supervised from before its record exists: a reconcile running meanwhile (the service's first
    // moments) must not take the STARTING record without a pid for one a crash left behind.
    this.live.set(id, emptyLive());
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const sha256 = given
        ? certificateSha256(await readFile(given.certPath))
        : (
            await ensureTlsMaterial(paths.tlsDir, {
              commonName: `lucid-xrdp-${id}`,
              takeKey: () => this.opts.keyPool?.take(),
            })
          ).sha256;
      await writeFileAtomic(paths.xrdpIni, ini, 0o600);
      record = await this.opts.store.insert(
        {
          id,
          requestId: req.requestId,
          serverId: req.serverId,
          port: req.port,
          state: "STARTING",
          restartCount: 0,
          settings: { ...req.settings },
          effectiveSettings: { ...settings },
          tlsCertSha256: sha256,
          configDir: dir,
          owner: req.owner,
          ...(desktop && {
            sesmanAddress: desktop.sesmanAddress,
            displayFirst: desktop.block.first,
            displayCount: desktop.block.count,
          }),
        },
        // Not the caller's signal: once the instance is being created it is created (a retry by
        // request id finds it); an aborted write would leave a record whose outcome we misread.
      );
    } catch (e) {
      // Nothing left behind: not the directory, not a record.
      this.live.delete(id);
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    await this.publish("instance.created", record);
    await this.spawn(record, bin);
    return this.opts.store.get(id);
  }

  /**
   * Waits until the instance leaves STARTING/RESTARTING, or `timeoutMs` passes. Every change of
   * state is published, so the record is read again when an event about the instance arrives, and
   * at least every second in case one is lost.
   */
  async waitSettled(id: string, timeoutMs: number, signal?: AbortSignal): Promise<InstanceRecord> {
    const deadline = Date.now() + timeoutMs;
    // Watched before the first read: a change between a read and the wait still wakes it.
    const wakeup = this.wakeups.watch(id);
    try {
      for (;;) {
        const r = await this.opts.store.get(id, { signal });
        if (r.state !== "STARTING" && r.state !== "RESTARTING") return r;
        if (Date.now() >= deadline || signal?.aborted) return r;
        await wakeup.next(Math.min(WAKEUP_RECHECK_MS, deadline - Date.now()), signal);
      }
    } finally {
      wakeup.close();
    }
  }

  /** Stops an instance: SIGTERM, then SIGKILL to its group after the grace time. */
  async stop(
    id: string,
    opts: { graceMs?: number; force?: boolean; reason?: InstanceStateReason } = {},
  ): Promise<InstanceRecord> {
    const record = await this.opts.store.get(id);
    if (record.state === "STOPPED" || record.state === "FAILED") {
      return record; // idempotent: already ended
    }
    const live = this.live.get(id) ?? {
      exits: [],
      probeFailures: 0,
      stopping: false,
      chain: Promise.resolve(),
    };
    this.live.set(id, live);
    live.stopping = true;
    clearTimeout(live.restartTimer);
    clearInterval(live.healthTimer);
    const reason = opts.reason ?? "STOP_REQUESTED";
    await this.transition(id, "STOPPING", { stateReason: reason, stateMessage: "stopping" });
    const handle = live.handle;
    const grace = opts.force ? 0 : (opts.graceMs ?? this.opts.stopGraceMs);
    if (handle) {
      handle.killGroup(opts.force ? "SIGKILL" : "SIGTERM");
      const ended = await Promise.race([
        handle.exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), grace).unref()),
      ]);
      if (!ended) {
        handle.killGroup("SIGKILL");
        await handle.exited;
      }
      // Per-connection children share the group: make sure none is left.
      handle.killGroup("SIGKILL");
    }
    // The port must be free again before we call the instance STOPPED.
    const deadline = Date.now() + 5_000;
    while (!(await portIsFree(this.opts.listenAddress, record.port)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    live.handle = undefined;
    await this.endInstanceDesktops(record, live, opts.force ? 0 : Math.min(grace, 5_000));
    // Key material and config go with the instance.
    if (record.configDir !== undefined)
      await rm(record.configDir, { recursive: true, force: true });
    return this.transition(id, "STOPPED", {
      stateReason: reason,
      stateMessage: "stopped",
      pid: undefined,
      pidStartTicks: undefined,
      processStartTime: undefined,
      sesmanPid: undefined,
      sesmanStartTicks: undefined,
      stopTime: this.now(),
    });
  }

  /** The node's free displays and how many more instances fit (GetHostInfo, health). */
  desktopCapacity() {
    return this.desktops.capacity();
  }

  /** Whether a new instance could start a desktop now, and what is missing. */
  desktopAvailability() {
    return this.desktops.availability();
  }

  /** Whether the service runs a sesman per instance (XRDP_SESMAN=managed). */
  ownsDesktops(): boolean {
    return this.desktops.owns();
  }

  /**
   * Reconciles stored instances with the process table after a (re)start of the service: adopts
   * live processes, marks missing ones FAILED, kills strays with our marker.
   */
  async reconcile(): Promise<{ adopted: string[]; missing: string[]; strays: number[] }> {
    const adopted: string[] = [];
    const missing: string[] = [];
    const known = new Set<number>();
    let token = "";
    do {
      const page = await this.opts.store.list({
        where: { state: { in: [...liveInstanceStates] } },
        pageSize: 500,
        pageToken: token,
      });
      for (const r of page.items) {
        // Started by this life of the service (StartInstance while reconcile ran): not a leftover.
        if (this.live.has(r.id)) continue;
        const handle =
          r.pid !== undefined && r.pidStartTicks !== undefined
            ? adoptProcess(r.pid, r.pidStartTicks)
            : undefined;
        const sesman =
          r.sesmanPid !== undefined && r.sesmanStartTicks !== undefined
            ? adoptProcess(r.sesmanPid, r.sesmanStartTicks)
            : undefined;
        if (sesman) known.add(sesman.pid);
        if (handle) {
          known.add(handle.pid);
          const live: Live = {
            handle,
            sesman,
            exits: [],
            probeFailures: 0,
            stopping: false,
            chain: Promise.resolve(),
          };
          this.live.set(r.id, live);
          adopted.push(r.id);
          this.watch(r.id, handle);
          if (sesman) this.watchSesman(r.id, sesman);
          else if (r.sesmanAddress !== undefined && r.state !== "STOPPING") {
            // xrdp lived on but its sesman did not: start a new one (the desktops are gone).
            await this.ensureSesman(r, live).catch((e: unknown) => {
              this.opts.logger.error(
                { err: e, instance: r.id },
                "xrdp-sesman could not be started",
              );
              handle.killGroup("SIGKILL");
            });
          }
          // An instance caught mid-stop is stopped now; others are READY once they answer.
          if (r.state === "STOPPING") {
            void this.stop(r.id, { reason: r.stateReason ?? "STOP_REQUESTED" }).catch(
              (e: unknown) =>
                this.opts.logger.error({ err: e, instance: r.id }, "finishing a stop failed"),
            );
          } else {
            this.readyInBackground(r.id, handle);
          }
        } else {
          missing.push(r.id);
          const failed = await this.transition(r.id, "FAILED", {
            stateReason: "PROCESS_MISSING",
            stateMessage: `no live process for pid ${r.pid ?? "none"} at service start`,
            pid: undefined,
            pidStartTicks: undefined,
          });
          // An instance without its xrdp has no desktops either.
          await this.endInstanceDesktops(failed, { ...emptyLive(), sesman }, 0);
        }
      }
      token = page.nextPageToken;
    } while (token !== "");
    const strays: number[] = [];
    // What this life of the service runs now, including what it started since the loop above.
    for (const l of this.live.values()) {
      if (l.handle) known.add(l.handle.pid);
      if (l.sesman) known.add(l.sesman.pid);
    }
    for (const p of this.findOurXrdpProcesses()) {
      // A group leader per stray: xrdp's per-connection children share its group.
      if (p.pid !== p.stat.pgrp || known.has(p.stat.pgrp)) continue;
      strays.push(p.pid);
      try {
        process.kill(-p.stat.pgrp, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (adopted.length + missing.length + strays.length > 0) {
      this.opts.logger.info({ adopted, missing, strays }, "reconciled instances");
    }
    return { adopted, missing, strays };
  }

  /**
   * xrdp and xrdp-sesman processes whose config lives in our state directory: ours, from any life
   * of the service.
   */
  private findOurXrdpProcesses() {
    const marker = `${this.opts.stateDir}/`;
    return findProcesses((p) => {
      const [exe, ...args] = p.cmdline;
      if (exe === undefined || !/(^|\/)xrdp(-sesman)?$/.test(exe)) return false;
      const i = args.indexOf("--config");
      return i >= 0 && (args[i + 1] ?? "").startsWith(marker);
    });
  }

  /** Stops every live instance (service shutdown), or leaves them to be adopted. */
  async close(stopInstances: boolean): Promise<void> {
    this.closed = true;
    for (const live of this.live.values()) {
      clearTimeout(live.restartTimer);
      clearInterval(live.healthTimer);
    }
    if (this.ownWakeups) await this.wakeups.close();
    if (!stopInstances) return;
    const ids = [...this.live.keys()];
    await Promise.all(
      ids.map((id) =>
        this.stop(id, { reason: "SERVICE_SHUTDOWN" }).catch((e: unknown) =>
          this.opts.logger.error({ err: e, instance: id }, "stop at shutdown failed"),
        ),
      ),
    );
  }

  // ---- internals -------------------------------------------------------------------------

  /** Starts the instance's sesman if it has none running (XRDP_SESMAN=managed). */
  private async ensureSesman(record: InstanceRecord, live: Live): Promise<void> {
    if (live.sesman) return;
    const handle = await this.desktops.startSesman(record);
    if (handle === undefined) return;
    live.sesman = handle;
    await this.transition(record.id, record.state, {
      sesmanPid: handle.pid,
      sesmanStartTicks: handle.startTicks,
    });
    this.watchSesman(record.id, handle);
  }

  /** Ends an instance's sesman and desktops; the live sesman handle is dropped. */
  private async endInstanceDesktops(
    record: InstanceRecord,
    live: Live | undefined,
    graceMs: number,
  ): Promise<void> {
    const sesman = live?.sesman;
    if (live) live.sesman = undefined;
    await this.desktops.endInstance(record, sesman, graceMs);
  }

  /** sesman gone while the instance lives: xrdp is killed too, and the crash path restarts both. */
  private watchSesman(id: string, handle: ProcessHandle): void {
    void handle.exited.then((exit) => {
      const live = this.live.get(id);
      if (live === undefined || live.sesman !== handle) return;
      live.sesman = undefined;
      if (live.stopping || this.closed) return;
      this.opts.logger.warn(
        { instance: id, exit, output: handle.output.slice(-5) },
        "xrdp-sesman of the instance exited: restarting the instance",
      );
      live.handle?.killGroup("SIGKILL");
    });
  }

  private async spawn(record: InstanceRecord, bin: string): Promise<void> {
    const live = this.live.get(record.id);
    if (live === undefined || live.stopping || this.closed) return;
    try {
      await this.ensureSesman(record, live);
    } catch (e) {
      this.opts.logger.error({ err: e, instance: record.id }, "xrdp-sesman could not be started");
      await this.transition(record.id, "FAILED", {
        stateReason: "PROCESS_EXITED",
        stateMessage: `xrdp-sesman could not be started: ${e instanceof Error ? e.message : String(e)}`,
      });
      await this.endInstanceDesktops(await this.opts.store.get(record.id), live, 0);
      return;
    }
    const args = [
      "--nodaemon",
      "--port",
      `tcp://${this.opts.listenAddress}:${record.port}`,
      "--config",
      instancePaths(this.opts.stateDir, record.id).xrdpIni,
    ];
    const cmd = this.desktops.xrdpCommand(record.id, bin, args);
    let handle: ProcessHandle;
    try {
      handle = await spawnProcess(cmd.bin, cmd.args, {
        outputFile: join(instancePaths(this.opts.stateDir, record.id).dir, "xrdp.out"),
      });
    } catch (e) {
      await this.transition(record.id, "FAILED", {
        stateReason: "PROCESS_EXITED",
        stateMessage: `spawn failed: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    live.handle = handle;
    await this.transition(record.id, "STARTING", {
      pid: handle.pid,
      pidStartTicks: handle.startTicks,
      processStartTime: this.now(),
      nextRestartTime: undefined,
    });
    this.watch(record.id, handle);
    this.readyInBackground(record.id, handle);
  }

  /**
   * Runs awaitReady off the request path. Every background task ends in a catch: an unhandled
   * rejection would exit the service and orphan every instance it supervises. A backend outage
   * while recording the result is retried (the probe is repeated, which is cheap once xrdp answers);
   * anything else is logged.
   */
  private readyInBackground(id: string, handle: ProcessHandle): void {
    void (async () => {
      for (let delay = 250; ; delay = Math.min(delay * 2, 10_000)) {
        try {
          await this.awaitReady(id, handle);
          return;
        } catch (e) {
          const current = this.live.get(id)?.handle === handle && !this.closed;
          if (!(e instanceof BackendUnavailableError) || !current) {
            if (current) this.opts.logger.error({ err: e, instance: id }, "readiness failed");
            return;
          }
          this.opts.logger.warn(
            { err: e, instance: id, retryInMs: delay },
            "recording readiness postponed",
          );
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    })();
  }

  /** Probes until READY; a timeout kills the process (its exit then takes the crash path). */
  private async awaitReady(id: string, handle: ProcessHandle): Promise<void> {
    const record = await this.opts.store.get(id);
    const result = await probeUntilReady(this.opts.listenAddress, record.port, {
      deadlineMs: this.opts.readinessTimeoutMs,
      intervalMs: 100,
    });
    const live = this.live.get(id);
    if (live === undefined || live.handle !== handle || live.stopping) return;
    if (!result.ok) {
      this.opts.logger.warn(
        { instance: id, reason: result.reason },
        "xrdp never answered the RDP probe",
      );
      await this.transition(id, "FAILED", {
        stateReason: "READINESS_TIMEOUT",
        stateMessage: `the port never answered the RDP probe: ${result.reason}`,
      });
      live.stopping = true;
      handle.killGroup("SIGKILL");
      await this.endInstanceDesktops(record, live, 0);
      return;
    }
    await this.transition(id, "READY", {
      readyTime: this.now(),
      stateReason: undefined,
      stateMessage: undefined,
    });
    live.probeFailures = 0;
    clearInterval(live.healthTimer);
    live.healthTimer = setInterval(
      () =>
        void this.healthCheck(id, handle).catch((e: unknown) =>
          this.opts.logger.warn({ err: e, instance: id }, "health check failed"),
        ),
      this.opts.healthIntervalMs,
    );
    live.healthTimer.unref();
  }

  /** The probe is also the health check: three misses in a row kill the process to restart it. */
  private async healthCheck(id: string, handle: ProcessHandle): Promise<void> {
    const live = this.live.get(id);
    if (live === undefined || live.handle !== handle || live.stopping) return;
    const record = await this.opts.store.find(id);
    if (record === undefined) return;
    // A desktop whose X server was killed leaves its display's files, and sesman skips such a
    // display: without this, a block fills up while the instance lives.
    this.desktops.cleanStale(record);
    // Generous: a busy host answers slowly, and a false alarm restarts a working instance.
    const r = await probeRdp(this.opts.listenAddress, record.port, { timeoutMs: 5_000 });
    if (r.ok) {
      live.probeFailures = 0;
      return;
    }
    live.probeFailures++;
    if (live.probeFailures >= 3) {
      this.opts.logger.warn(
        { instance: id, reason: r.reason },
        "health probe failed 3 times: restarting",
      );
      handle.killGroup("SIGKILL");
    }
  }

  private watch(id: string, handle: ProcessHandle): void {
    void handle.exited
      .then((exit) => this.onExit(id, handle, exit))
      .catch((e: unknown) =>
        this.opts.logger.error({ err: e, instance: id }, "handling the exit of xrdp failed"),
      );
  }

  private async onExit(id: string, handle: ProcessHandle, exit: ProcessExitInfo): Promise<void> {
    const live = this.live.get(id);
    if (live === undefined || live.handle !== handle) return;
    clearInterval(live.healthTimer);
    // Whatever xrdp forked must not outlive it.
    handle.killGroup("SIGKILL");
    live.handle = undefined;
    if (live.stopping || this.closed) return;
    const now = this.now().getTime();
    live.exits = [...live.exits.filter((t) => now - t < this.opts.crashLoopWindowMs), now];
    const lastExit = {
      exitCode: exit.exitCode,
      signal: exit.signal,
      time: new Date(now),
    };
    const current = await this.opts.store.find(id);
    if (current === undefined || current.state === "FAILED" || current.state === "STOPPED") return;
    this.opts.logger.warn(
      { instance: id, exit, output: handle.output.slice(-5) },
      "xrdp exited unexpectedly",
    );
    if (live.exits.length >= this.opts.crashLoopExits) {
      const failed = await this.transition(id, "FAILED", {
        stateReason: "CRASH_LOOP",
        stateMessage: `${live.exits.length} exits within ${this.opts.crashLoopWindowMs} ms`,
        lastExit,
        pid: undefined,
        pidStartTicks: undefined,
      });
      await this.endInstanceDesktops(failed, live, 0);
      return;
    }
    const delay = Math.min(
      this.opts.restartBackoffMs * 2 ** current.restartCount,
      this.opts.maxRestartBackoffMs,
    );
    const restarting = await this.transition(id, "RESTARTING", {
      stateReason: "PROCESS_EXITED",
      stateMessage: exit.signal
        ? `killed by ${exit.signal}`
        : `exited with code ${exit.exitCode ?? "?"}`,
      lastExit,
      pid: undefined,
      pidStartTicks: undefined,
      restartCount: current.restartCount + 1,
      nextRestartTime: new Date(now + delay),
    });
    live.restartTimer = setTimeout(() => {
      const bin = this.opts.xrdpBin;
      if (bin === undefined) return;
      void this.spawn(restarting, bin).catch((e: unknown) =>
        this.opts.logger.error({ err: e, instance: id }, "restart failed"),
      );
    }, delay);
    live.restartTimer.unref();
  }

  /** Moves an instance to `state` with `changes`, stores it and publishes the change. */
  private transition(
    id: string,
    state: InstanceState,
    changes: Partial<Omit<InstanceRecord, "id" | "version" | "createTime" | "updateTime">>,
  ): Promise<InstanceRecord> {
    const live = this.live.get(id);
    const run = async (): Promise<InstanceRecord> => {
      for (let attempt = 0; ; attempt++) {
        const current = await this.opts.store.get(id);
        try {
          const next = await this.opts.store.update(id, current.version, { ...changes, state });
          if (current.state !== state) {
            await this.publish("instance.state_changed", next, current.state);
          }
          return next;
        } catch (e) {
          if (attempt < 5 && e instanceof Error && e.name === "ConflictError") continue;
          throw e;
        }
      }
    };
    if (live === undefined) return run();
    const p = live.chain.then(run, run);
    live.chain = p.catch(() => undefined);
    return p;
  }

  private async publish(type: string, record: InstanceRecord, previousState?: InstanceState) {
    try {
      await this.opts.bus.publish({
        type,
        subject: record.id,
        data: { instance: record, previousState },
      });
    } catch (e) {
      // The record is the truth; a lost event is logged, never fatal to supervision.
      this.opts.logger.warn({ err: e, type, instance: record.id }, "event not published");
    }
  }

  /** True while the instance counts against capacity. */
  static isLive(state: InstanceState): boolean {
    return busyStates.has(state);
  }
}

function emptyLive(): Live {
  return { exits: [], probeFailures: 0, stopping: false, chain: Promise.resolve() };
}

/** A local account name, as useradd accepts by default; root only where the floor allows it. */
const ownerPattern = /^[a-z_][a-z0-9_-]{0,31}$/;

function checkOwner(owner: string, allowRoot: boolean): void {
  if (!ownerPattern.test(owner)) {
    throw new OwnerNotAllowedError(
      owner,
      "must be a local account name: a lowercase letter or _, then up to 31 of a-z, 0-9, _ and -",
    );
  }
  if (owner.startsWith("ask")) {
    // xrdp reads a value beginning with "ask" as a prompt: the client would choose the user.
    throw new OwnerNotAllowedError(owner, 'must not begin with "ask" (xrdp reads it as a prompt)');
  }
  if (owner === "root" && !allowRoot) {
    throw new OwnerNotAllowedError(owner, "root may not log in (XRDP_ALLOW_ROOT_LOGIN is off)");
  }
}
