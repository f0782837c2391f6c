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
 *
 * This class is the facade the handler uses; its parts are instance-processes.ts (spawn, adopt,
 * exits and restarts, stop), instance-readiness.ts (probe until READY, health checks),
 * instance-reconciler.ts (adopt, start, kill strays, remove orphan folders) and
 * domain/restart-policy.ts (backoff, crash loop).
 */
import { rm } from "node:fs/promises";
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
import type { InstanceState } from "../domain/instance-states.js";
import { liveInstanceStates } from "../domain/instance-states.js";
import { resolveSettings } from "../domain/resolve-settings.js";
import type { EffectiveSettings } from "../domain/xrdp-settings.js";
import type { InstanceRecord } from "../store/records.js";
import { type DesktopAllocation, InstanceDesktops } from "./instance-desktops.js";
import { planInstanceFolder, writeInstanceFolder } from "./instance-folder.js";
import { InstanceProcesses, type StopOptions } from "./instance-processes.js";
import { InstanceReadiness } from "./instance-readiness.js";
import { InstanceReconciler } from "./instance-reconciler.js";
import { InstanceRecords } from "./instance-records.js";
import { findOurProcesses } from "./our-processes.js";
import { portIsFree } from "./port-free.js";
import {
  newSupervisedInstance,
  newSupervisorState,
  type SupervisorState,
} from "./supervised-instance.js";
import type { ReconcileResult, StartRequest, SupervisorOptions } from "./supervisor-options.js";

export {
  CapacityExceededError,
  DisplaysExhaustedError,
  InstanceEndedError,
  OwnerNotAllowedError,
  PortInUseError,
  ShuttingDownError,
  XrdpUnavailableError,
} from "../domain/instance-errors.js";
export type { StopOptions } from "./instance-processes.js";
export { portIsFree } from "./port-free.js";
export type { ReconcileResult, StartRequest, SupervisorOptions } from "./supervisor-options.js";

const busyStates: ReadonlySet<InstanceState> = new Set(liveInstanceStates);

/** Runs and supervises this node's xrdp instances: the handler's one entry to them. */
export class InstanceSupervisor {
  private readonly state: SupervisorState = newSupervisorState();
  private readonly now: Clock;
  private readonly wakeups: BusWakeups;
  private readonly ownWakeups: boolean;
  private readonly desktops: InstanceDesktops;
  private readonly records: InstanceRecords;
  private readonly processes: InstanceProcesses;
  private readonly reconciler: InstanceReconciler;

  constructor(private readonly opts: SupervisorOptions) {
    this.now = opts.clock ?? systemClock;
    this.ownWakeups = opts.wakeups === undefined;
    this.records = new InstanceRecords({
      store: opts.store,
      bus: opts.bus,
      logger: opts.logger,
      abandoned: () => this.state.letGo,
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
    const parts = {
      opts,
      state: this.state,
      records: this.records,
      desktops: this.desktops,
      clock: this.now,
    };
    const readiness = new InstanceReadiness(parts);
    this.processes = new InstanceProcesses({ ...parts, readiness });
    this.reconciler = new InstanceReconciler({ ...parts, processes: this.processes, readiness });
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
    if (this.state.closed) throw new ShuttingDownError();
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
    let first = this.state.starting.get(id);
    if (first === undefined) {
      first = this.startOnce(req, id, bin, effective).finally(() => this.state.starting.delete(id));
      this.state.starting.set(id, first);
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
      if (this.state.live.has(id) || !InstanceSupervisor.isLive(existing.state)) return existing;
      // Stored by a life that died, or by a write whose answer was lost: supervised from now on.
      await this.reconciler.resume(existing, findOurProcesses(this.opts.stateDir));
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
    this.state.live.set(id, newSupervisedInstance());
    try {
      // A reconcile may be removing this folder as an orphan of an earlier, failed try.
      await this.state.folderSweep;
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
      this.state.live.delete(id);
      // Unreachable store: the insert may have landed all the same. The folder stays, so that a
      // retry or the next reconcile can start the instance from it; otherwise nothing is left.
      if (!(e instanceof BackendUnavailableError)) await rm(dir, { recursive: true, force: true });
      throw e;
    }
    this.processes.launch(record, bin);
    return record;
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
  stop(id: string, opts: StopOptions = {}): Promise<InstanceRecord> {
    return this.processes.stop(id, opts);
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
   * interval (instance-reconciler.ts). Calls while one runs join it.
   */
  reconcile(): Promise<ReconcileResult> {
    return this.reconciler.reconcile();
  }

  /**
   * Stops every live instance (service shutdown), or leaves them to be adopted. Starts under way
   * finish storing (or fail) first, so that none is left out.
   */
  async close(stopInstances: boolean): Promise<void> {
    const { state } = this;
    state.closed = true;
    await Promise.allSettled([...state.starting.values()]);
    for (const live of state.live.values()) {
      clearTimeout(live.restartTimer);
      clearInterval(live.healthTimer);
    }
    if (this.ownWakeups) await this.wakeups.close();
    if (stopInstances) {
      await Promise.all(
        [...state.live.keys()].map((id) =>
          this.stop(id, { reason: "SERVICE_SHUTDOWN" }).catch((e: unknown) => {
            // The store is away: the processes go all the same; the next life fixes the record.
            this.opts.logger.error({ err: e, instance: id }, "stop at shutdown failed: killed");
            const live = state.live.get(id);
            live?.handle?.killGroup("SIGKILL");
            live?.sesman?.killGroup("SIGKILL");
          }),
        ),
      );
    }
    state.letGo = true;
  }

  /** True while the instance counts against capacity. */
  static isLive(state: InstanceState): boolean {
    return busyStates.has(state);
  }
}
