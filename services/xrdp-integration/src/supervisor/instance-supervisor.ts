/**
 * Runs and supervises xrdp instances: one `xrdp --nodaemon --port tcp://ADDR:P --config <ini>`
 * process per instance, each in its own process group, READY only once its port answers the RDP
 * X.224 probe. Unexpected exits restart with exponential backoff; a crash loop marks the instance
 * FAILED. Stop sends SIGTERM, then SIGKILL to the group after a grace time, and checks the port is
 * bindable again. At start, stored instances are reconciled with the process table: live ones are
 * adopted (pid AND start time), missing ones marked FAILED, strays carrying our marker (a config
 * path inside our state directory) killed, and nothing else touched.
 *
 * Crash consistency: an instance's id follows from its request id, and its record is stored
 * STARTING (with its folder and config complete) before any process is spawned; the pid is written
 * after. A crash between the two leaves a process the next life recognises by the instance folder
 * its `--config` names, and adopts; a record without a process is started from its folder. So a
 * retry of StartInstance with the same request id, at whatever point the first call died, gets the
 * same instance and never a second xrdp. Writes the store refuses while it is down are retried
 * (instance-records.ts), and reconcile() runs again at an interval, repairing records and
 * processes in both directions.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, systemClock } from "@lucid-rdp/runtime";
import { BackendUnavailableError, BusWakeups } from "@lucid-rdp/storage";
import {
  CapacityExceededError,
  checkOwner,
  PortInUseError,
  ShuttingDownError,
  XrdpUnavailableError,
} from "../domain/instance-errors.js";
import { checkSameRequest, instanceIdFor } from "../domain/instance-identity.js";
import { instancePaths } from "../domain/instance-paths.js";
import type { InstanceState, InstanceStateReason } from "../domain/instance-states.js";
import { liveInstanceStates } from "../domain/instance-states.js";
import { resolveSettings } from "../domain/resolve-settings.js";
import type { EffectiveSettings } from "../domain/xrdp-settings.js";
import { probeRdp, probeUntilReady } from "../host/rdp-probe.js";
import type { InstanceRecord } from "../store/records.js";
import { type DesktopAllocation, InstanceDesktops } from "./instance-desktops.js";
import { planInstanceFolder, writeInstanceFolder } from "./instance-folder.js";
import { type InstanceChanges, InstanceRecords } from "./instance-records.js";
import { removeOrphanFolders } from "./orphan-folders.js";
import { findOurProcesses, killGroup, type OurProcess } from "./our-processes.js";
import { portIsFree } from "./port-free.js";
import {
  adoptProcess,
  type ProcessExitInfo,
  type ProcessHandle,
  spawnProcess,
} from "./process-handle.js";
import type { ReconcileResult, StartRequest, SupervisorOptions } from "./supervisor-options.js";

export {
  CapacityExceededError,
  InstanceEndedError,
  OwnerNotAllowedError,
  PortInUseError,
  ShuttingDownError,
  XrdpUnavailableError,
} from "../domain/instance-errors.js";
export { DisplaysExhaustedError } from "./instance-desktops.js";
export { portIsFree } from "./port-free.js";
export type { ReconcileResult, StartRequest, SupervisorOptions } from "./supervisor-options.js";

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
}

const busyStates: ReadonlySet<InstanceState> = new Set(liveInstanceStates);

export class InstanceSupervisor {
  private readonly live = new Map<string, Live>();
  /** StartInstance calls under way, by instance id: a concurrent duplicate joins the first. */
  private readonly starting = new Map<string, Promise<InstanceRecord>>();
  private readonly now: Clock;
  private readonly wakeups: BusWakeups;
  private readonly ownWakeups: boolean;
  private closed = false;
  /** Set once the service let go of its instances: record writes are no longer retried. */
  private letGo = false;
  private reconciling: Promise<ReconcileResult> | undefined;
  /** The removal of orphan folders under way: a start creating one of them waits for it. */
  private folderSweep: Promise<unknown> = Promise.resolve();
  private readonly desktops: InstanceDesktops;
  private readonly records: InstanceRecords;

  constructor(private readonly opts: SupervisorOptions) {
    this.now = opts.clock ?? systemClock;
    this.ownWakeups = opts.wakeups === undefined;
    this.records = new InstanceRecords({
      store: opts.store,
      bus: opts.bus,
      logger: opts.logger,
      abandoned: () => this.letGo,
    });
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
   * Validates, renders and writes the instance's config, stores it STARTING and spawns xrdp in the
   * background. Invalid settings or values are rejected before anything is written. Idempotent by
   * request id: a retry, concurrent or after a crash, gets the first call's instance (supervised
   * again if no life of the service supervises it now).
   * @throws RequestParamsChangedError when the request id came with other parameters
   */
  async start(req: StartRequest): Promise<InstanceRecord> {
    if (this.closed) throw new ShuttingDownError();
    const bin = this.opts.xrdpBin;
    if (bin === undefined)
      throw new XrdpUnavailableError(this.opts.xrdpMissingReason ?? "not found");
    const effective: EffectiveSettings = resolveSettings(
      req.settings,
      this.opts.defaults,
      this.opts.floor,
    );
    checkOwner(req.owner, effective.allowRootLogin);
    const id = instanceIdFor(req.requestId);
    let first = this.starting.get(id);
    if (first === undefined) {
      first = this.startOnce(req, id, bin, effective).finally(() => this.starting.delete(id));
      this.starting.set(id, first);
    }
    const record = await first;
    checkSameRequest(req.requestId, record, req);
    return record;
  }

  private async startOnce(
    req: StartRequest,
    id: string,
    bin: string,
    effective: EffectiveSettings,
  ): Promise<InstanceRecord> {
    const existing = await this.opts.store.find(id);
    if (existing !== undefined) {
      checkSameRequest(req.requestId, existing, req);
      if (this.live.has(id) || !InstanceSupervisor.isLive(existing.state)) return existing;
      // Stored by a life that died, or by a write whose answer was lost: supervised from now on.
      await this.resume(existing, findOurProcesses(this.opts.stateDir));
      return this.opts.store.get(id);
    }
    if ((await this.liveCount()) >= this.opts.maxInstances) {
      throw new CapacityExceededError(this.opts.maxInstances);
    }
    if (!(await portIsFree(this.opts.listenAddress, req.port))) throw new PortInUseError(req.port);
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
    const plan = planInstanceFolder({
      stateDir: this.opts.stateDir,
      id,
      listenAddress: this.opts.listenAddress,
      port: req.port,
      owner: req.owner,
      effective,
      tls: this.opts.tls,
      sesmanAddress: desktop?.sesmanAddress,
    });
    const { settings } = plan;
    const dir = plan.paths.dir;
    // A block is clean when it is handed out: no desktop or stale file of an earlier life.
    if (desktop) await this.desktops.prepare(dir, desktop, settings);

    let record: InstanceRecord;
    // Supervised from before its record exists: a reconcile running meanwhile (the service's first
    // moments) must not take the STARTING record without a pid for one a crash left behind.
    this.live.set(id, emptyLive());
    try {
      // A reconcile may be removing this folder as an orphan of an earlier, failed try.
      await this.folderSweep;
      const sha256 = await writeInstanceFolder(plan, () => this.opts.keyPool?.take());
      record = await this.records.insert(
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
      this.live.delete(id);
      // Unreachable store: the insert may have landed all the same. The folder stays, so that a
      // retry or the next reconcile can start the instance from it; otherwise nothing is left.
      if (!(e instanceof BackendUnavailableError)) await rm(dir, { recursive: true, force: true });
      throw e;
    }
    this.launch(record, bin);
    return record;
  }

  /** Spawns the instance off the request path: its outcome is the record's business. */
  private launch(record: InstanceRecord, bin: string): void {
    void this.spawn(record, bin).catch((e: unknown) =>
      this.opts.logger.error({ err: e, instance: record.id }, "starting xrdp failed"),
    );
  }

  /**
   * Waits until the instance leaves STARTING/RESTARTING, or `timeoutMs` passes. Every change of
   * state is published, so the record is read again when an event about the instance arrives, and
   * at least every second in case one is lost.
   */
  async waitSettled(id: string, timeoutMs: number, signal?: AbortSignal): Promise<InstanceRecord> {
    return this.wakeups.waitUntil(
      id,
      () => this.opts.store.get(id, { signal }),
      (r) => r.state === "STARTING" || r.state === "RESTARTING",
      { timeoutMs, signal, clock: this.now },
    );
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
    // Not supervised yet (a stop before the reconcile took it): its processes are found first,
    // or the stop would leave them running and call the instance STOPPED.
    const live = this.live.get(id) ?? this.adopt(record, findOurProcesses(this.opts.stateDir));
    live.stopping = true;
    clearTimeout(live.restartTimer);
    clearInterval(live.healthTimer);
    const reason = opts.reason ?? "STOP_REQUESTED";
    await this.records.transition(id, "STOPPING", {
      stateReason: reason,
      stateMessage: "stopping",
    });
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
    return this.records.transition(id, "STOPPED", {
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
   * Reconciles stored instances with the process table, at the service's start and then at an
   * interval: each live record no life supervises is adopted (its xrdp found by pid and start
   * time, or by its instance folder), started (STARTING or RESTARTING, never spawned or waiting to
   * be), stopped (STOPPING) or marked FAILED (READY without its process); our processes of no live
   * record are strays and get SIGKILL. Nothing else is touched. Calls while one runs join it. It
   * ends with a round of the outbox relay: events a killed writer left in records go out.
   */
  reconcile(): Promise<ReconcileResult> {
    this.reconciling ??= this.reconcileNow()
      .then(async (result) => {
        await this.records
          .relay()
          .catch((e: unknown) => this.opts.logger.warn({ err: e }, "outbox relay: next round"));
        return result;
      })
      .finally(() => {
        this.reconciling = undefined;
      });
    return this.reconciling;
  }

  private async reconcileNow(): Promise<ReconcileResult> {
    const result: ReconcileResult = {
      adopted: [],
      started: [],
      missing: [],
      strays: [],
      folders: [],
    };
    if (this.closed) return result;
    const records: InstanceRecord[] = [];
    let token = "";
    do {
      const page = await this.opts.store.list({
        where: { state: { in: [...liveInstanceStates] } },
        pageSize: 500,
        pageToken: token,
      });
      records.push(...page.items);
      token = page.nextPageToken;
    } while (token !== "");
    const listed = new Set(records.map((r) => r.id));
    // Read after the records: whatever is spawned from now on belongs to an instance in `live`.
    const procs = findOurProcesses(this.opts.stateDir);
    for (const r of records) {
      // Supervised by this life (started, adopted or resumed already): not a leftover.
      if (this.live.has(r.id) || this.closed) continue;
      const outcome = await this.resume(r, procs);
      if (outcome === "adopted" || outcome === "stopping") result.adopted.push(r.id);
      else if (outcome === "started") result.started.push(r.id);
      else result.missing.push(r.id);
    }
    for (const p of procs) {
      if (this.live.has(p.instanceId) || this.closed) continue;
      result.strays.push(p.pid);
      killGroup(p.pid);
    }
    const sweep = removeOrphanFolders({
      stateDir: this.opts.stateDir,
      // Listed records need no look-up; only folders of ended or no records do.
      busy: (id) => listed.has(id) || this.starting.has(id) || this.live.has(id) || this.closed,
      stored: async (id) => (await this.opts.store.find(id)) !== undefined,
    });
    this.folderSweep = sweep.catch(() => undefined);
    result.folders.push(...(await sweep));
    if (Object.values(result).some((v) => v.length > 0)) {
      this.opts.logger.info(result, "reconciled instances");
    }
    return result;
  }

  /**
   * Takes a live record that no life of the service supervises: adopts its processes (by pid and
   * start time, else by its folder in their command line), or starts it, or ends it.
   */
  private async resume(
    r: InstanceRecord,
    procs: readonly OurProcess[],
  ): Promise<"adopted" | "stopping" | "started" | "missing"> {
    // Claimed before the first await: a concurrent retry or reconcile leaves it alone.
    const live = this.adopt(r, procs);
    const { handle, sesman } = live;
    if (sesman) this.watchSesman(r.id, sesman);
    if (handle) this.watch(r.id, handle);
    const found: InstanceChanges = {
      ...(handle && handle.pid !== r.pid && { pid: handle.pid, pidStartTicks: handle.startTicks }),
      ...(sesman &&
        sesman.pid !== r.sesmanPid && {
          sesmanPid: sesman.pid,
          sesmanStartTicks: sesman.startTicks,
        }),
    };
    if (Object.keys(found).length > 0) {
      // Not awaited: a StartInstance retry resuming the instance must not wait for this write (a
      // claim of the dead life can hold it for a while); later writes queue behind it.
      void this.records
        .transition(r.id, r.state, found)
        .catch((e: unknown) =>
          this.opts.logger.error({ err: e, instance: r.id }, "recording the adopted pid failed"),
        );
    }
    if (r.state === "STOPPING") {
      // Caught mid-stop: stopped now.
      void this.stop(r.id, { reason: r.stateReason ?? "STOP_REQUESTED" }).catch((e: unknown) =>
        this.opts.logger.error({ err: e, instance: r.id }, "finishing a stop failed"),
      );
      return "stopping";
    }
    if (handle) {
      if (!sesman && r.sesmanAddress !== undefined) {
        // xrdp lived on but its sesman did not: start a new one (the desktops are gone).
        await this.ensureSesman(r, live).catch((e: unknown) => {
          this.opts.logger.error({ err: e, instance: r.id }, "xrdp-sesman could not be started");
          handle.killGroup("SIGKILL");
        });
      }
      this.readyInBackground(r.id, handle, r.port);
      return "adopted";
    }
    const bin = this.opts.xrdpBin;
    const configured = existsSync(instancePaths(this.opts.stateDir, r.id).xrdpIni);
    if ((r.state === "STARTING" || r.state === "RESTARTING") && bin && configured) {
      // Stored, never spawned (or waiting for its restart) when the last life ended: spawned now.
      this.launch(r, bin);
      return "started";
    }
    const failed = await this.records.transition(r.id, "FAILED", {
      stateReason: "PROCESS_MISSING",
      stateMessage: `no live process for pid ${r.pid ?? "none"} at service start`,
      pid: undefined,
      pidStartTicks: undefined,
    });
    // An instance without its xrdp has no desktops either.
    await this.endInstanceDesktops(failed, live, 0);
    return "missing";
  }

  /**
   * Supervises from now on an instance no life of the service supervises: its processes are
   * found by pid and start time, else by the instance folder in their command line; any other
   * process of the instance is killed (never two of a kind). Synchronous: nothing else can claim
   * the instance meanwhile.
   */
  private adopt(r: InstanceRecord, procs: readonly OurProcess[]): Live {
    const live = emptyLive();
    this.live.set(r.id, live);
    const mine = procs.filter((p) => p.instanceId === r.id);
    const find = (kind: OurProcess["kind"], pid?: number, ticks?: number) => {
      const byRecord =
        pid !== undefined && ticks !== undefined ? adoptProcess(pid, ticks) : undefined;
      const p = mine.find((x) => x.kind === kind);
      return byRecord ?? (p && adoptProcess(p.pid, p.startTicks));
    };
    live.handle = find("xrdp", r.pid, r.pidStartTicks);
    live.sesman = find("sesman", r.sesmanPid, r.sesmanStartTicks);
    for (const p of mine) {
      if (p.pid !== live.handle?.pid && p.pid !== live.sesman?.pid) killGroup(p.pid);
    }
    return live;
  }

  /**
   * Stops every live instance (service shutdown), or leaves them to be adopted. Starts under way
   * finish storing (or fail) first, so that none is left out.
   */
  async close(stopInstances: boolean): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.starting.values()]);
    for (const live of this.live.values()) {
      clearTimeout(live.restartTimer);
      clearInterval(live.healthTimer);
    }
    if (this.ownWakeups) await this.wakeups.close();
    if (stopInstances) {
      await Promise.all(
        [...this.live.keys()].map((id) =>
          this.stop(id, { reason: "SERVICE_SHUTDOWN" }).catch((e: unknown) => {
            // The store is away: the processes go all the same; the next life fixes the record.
            this.opts.logger.error({ err: e, instance: id }, "stop at shutdown failed: killed");
            const live = this.live.get(id);
            live?.handle?.killGroup("SIGKILL");
            live?.sesman?.killGroup("SIGKILL");
          }),
        ),
      );
    }
    this.letGo = true;
  }

  // ---- internals -------------------------------------------------------------------------

  /** Starts the instance's sesman if it has none running (XRDP_SESMAN=managed). */
  private async ensureSesman(record: InstanceRecord, live: Live): Promise<void> {
    if (live.sesman) return;
    const handle = await this.desktops.startSesman(record);
    if (handle === undefined) return;
    live.sesman = handle;
    await this.records.transition(record.id, record.state, {
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
      const failed = await this.records.transition(record.id, "FAILED", {
        stateReason: "PROCESS_EXITED",
        stateMessage: `xrdp-sesman could not be started: ${e instanceof Error ? e.message : String(e)}`,
      });
      await this.endInstanceDesktops(failed, live, 0);
      return;
    }
    const paths = instancePaths(this.opts.stateDir, record.id);
    const args = ["--nodaemon", "--port", `tcp://${this.opts.listenAddress}:${record.port}`];
    const cmd = this.desktops.xrdpCommand(record.id, bin, [...args, "--config", paths.xrdpIni]);
    let handle: ProcessHandle;
    try {
      handle = await spawnProcess(cmd.bin, cmd.args, { outputFile: join(paths.dir, "xrdp.out") });
    } catch (e) {
      await this.records.transition(record.id, "FAILED", {
        stateReason: "PROCESS_EXITED",
        stateMessage: `spawn failed: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    if (live.stopping) {
      // Stopped while it was being spawned: the stop saw no process to end.
      handle.killGroup("SIGKILL");
      return;
    }
    live.handle = handle;
    // Watched before the pid is written: during a store outage the write waits, supervision not.
    this.watch(record.id, handle);
    this.readyInBackground(record.id, handle, record.port);
    await this.records.transition(record.id, "STARTING", {
      pid: handle.pid,
      pidStartTicks: handle.startTicks,
      processStartTime: this.now(),
      nextRestartTime: undefined,
    });
  }

  /**
   * Runs awaitReady off the request path. Every background task ends in a catch: an unhandled
   * rejection would exit the service and orphan every instance it supervises. A store outage
   * while recording the result is waited out by the record writes themselves.
   */
  private readyInBackground(id: string, handle: ProcessHandle, port: number): void {
    void this.awaitReady(id, handle, port).catch((e: unknown) => {
      if (this.live.get(id)?.handle === handle && !this.letGo) {
        this.opts.logger.error({ err: e, instance: id }, "readiness failed");
      }
    });
  }

  /** Probes until READY; a timeout kills the process (its exit then takes the crash path). */
  private async awaitReady(id: string, handle: ProcessHandle, port: number): Promise<void> {
    const result = await probeUntilReady(this.opts.listenAddress, port, {
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
      live.stopping = true;
      handle.killGroup("SIGKILL");
      const failed = await this.records.transition(id, "FAILED", {
        stateReason: "READINESS_TIMEOUT",
        stateMessage: `the port never answered the RDP probe: ${result.reason}`,
      });
      await this.endInstanceDesktops(failed, live, 0);
      return;
    }
    await this.records.transition(id, "READY", {
      readyTime: this.now(),
      stateReason: undefined,
      stateMessage: undefined,
    });
    // Stopped or restarted while READY was being written (an outage can hold a write long).
    if (live.handle !== handle || live.stopping) return;
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
    const current = await this.records.read(id);
    if (current === undefined || current.state === "FAILED" || current.state === "STOPPED") return;
    if (live.handle !== undefined || live.stopping) return; // respawned or stopped meanwhile
    this.opts.logger.warn(
      { instance: id, exit, output: handle.output.slice(-5) },
      "xrdp exited unexpectedly",
    );
    if (live.exits.length >= this.opts.crashLoopExits) {
      const failed = await this.records.transition(id, "FAILED", {
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
    const restarting = await this.records.transition(id, "RESTARTING", {
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

  /** True while the instance counts against capacity. */
  static isLive(state: InstanceState): boolean {
    return busyStates.has(state);
  }
}

function emptyLive(): Live {
  return { exits: [], probeFailures: 0, stopping: false };
}
