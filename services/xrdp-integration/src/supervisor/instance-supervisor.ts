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
 * This class is the facade the handler uses; its parts are instance-starter.ts (StartInstance up
 * to the stored record), instance-processes.ts (spawn, adopt, exits and restarts, stop),
 * instance-readiness.ts (probe until READY, health checks),
 * instance-reconciler.ts (adopt, start, kill strays, remove orphan folders) and
 * domain/restart-policy.ts (backoff, crash loop).
 */
import { type Clock, systemClock } from "@lucid-rdp/runtime";
import { BusWakeups } from "@lucid-rdp/storage";
import { type InstanceState, isLiveState } from "../domain/instance-states.js";
import type { InstanceRecord } from "../store/records.js";
import { InstanceDesktops } from "./instance-desktops.js";
import { InstanceProcesses, type StopOptions } from "./instance-processes.js";
import { InstanceReadiness } from "./instance-readiness.js";
import { InstanceReconciler } from "./instance-reconciler.js";
import { type InstanceReader, InstanceRecords } from "./instance-records.js";
import { InstanceStarter } from "./instance-starter.js";
import { newSupervisorState, type SupervisorState } from "./supervised-instance.js";
import type { ReconcileResult, StartRequest, SupervisorOptions } from "./supervisor-options.js";
import { WarmPool } from "./warm-pool.js";

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
export type { InstanceQuery, InstanceReader } from "./instance-records.js";
export { portIsFree } from "./port-free.js";
export type { ReconcileResult, StartRequest, SupervisorOptions } from "./supervisor-options.js";

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
  private readonly starter: InstanceStarter;
  /** The warm pool (WARM_POOL_SIZE): started by the app once the service serves. */
  readonly pool: WarmPool;

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
      records: this.records,
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
    this.pool = new WarmPool({
      target: opts.door === true ? (opts.warmPoolSize ?? 0) : 0,
      records: this.records,
      logger: opts.logger,
      stateDir: opts.stateDir,
      listenAddress: opts.listenAddress,
      startWarm: (req) => this.starter.startWarm(req),
      stop: (id) => this.stop(id),
      available: () => this.availability().ok,
    });
    this.starter = new InstanceStarter({
      ...parts,
      processes: this.processes,
      reconciler: this.reconciler,
      liveCount: () => this.liveCount(),
      takeWarm: (req, effective) => this.pool.take(req, effective),
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

  /** The instance records, read-only: what GetInstance and ListInstances read. */
  get instances(): InstanceReader {
    return this.records;
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
    return this.records.countLive();
  }

  /**
   * Validates, renders and writes the instance's config, stores it STARTING and spawns xrdp in the
   * background (instance-starter.ts). Idempotent by request id.
   * @throws RequestParamsChangedError when the request id came with other parameters
   */
  start(req: StartRequest): Promise<InstanceRecord> {
    return this.starter.start(req);
  }

  /**
   * Waits until the instance leaves STARTING/RESTARTING, or `timeoutMs` passes. Every change of
   * state is published, so the record is read again when an event about the instance arrives, and
   * at least every second in case one is lost.
   */
  async waitSettled(id: string, timeoutMs: number, signal?: AbortSignal): Promise<InstanceRecord> {
    return this.wakeups.waitUntil(
      id,
      () => this.records.get(id, { signal }),
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
    await this.pool.close();
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
    return isLiveState(state);
  }
}
