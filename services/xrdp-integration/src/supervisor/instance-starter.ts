/**
 * The start of an instance: settings resolved against the floor, owner checked, the instance's id
 * derived from its request id, capacity and port checked, a block of displays taken, its folder
 * (config, TLS material) written and its record stored STARTING, then xrdp spawned in the
 * background. Idempotent by request id: a retry, concurrent or after a crash, gets the first
 * call's instance (supervised again if no life of the service supervises it now).
 */
import { rm } from "node:fs/promises";
import { BackendUnavailableError } from "@lucid-rdp/storage";
import {
  CapacityExceededError,
  checkOwner,
  PortInUseError,
  PortRequiredError,
  ShuttingDownError,
  XrdpUnavailableError,
} from "../domain/instance-errors.js";
import { checkSameRequest, instanceIdFor } from "../domain/instance-identity.js";
import { isLiveState } from "../domain/instance-states.js";
import { resolveSettings } from "../domain/resolve-settings.js";
import type { EffectiveSettings } from "../domain/xrdp-settings.js";
import type { InstanceRecord } from "../store/records.js";
import type { DesktopAllocation, InstanceDesktops } from "./instance-desktops.js";
import { planInstanceFolder, writeInstanceFolder } from "./instance-folder.js";
import type { InstanceProcesses } from "./instance-processes.js";
import type { InstanceReconciler } from "./instance-reconciler.js";
import type { InstanceRecords } from "./instance-records.js";
import { NodePorts } from "./node-ports.js";
import { findOurProcesses } from "./our-processes.js";
import { portIsFree } from "./port-free.js";
import { newSupervisedInstance, type SupervisorState } from "./supervised-instance.js";
import type { StartRequest, SupervisorOptions } from "./supervisor-options.js";

/** What {@link InstanceStarter} works with. */
export interface InstanceStarterOptions {
  readonly opts: SupervisorOptions;
  readonly state: SupervisorState;
  readonly records: InstanceRecords;
  readonly desktops: InstanceDesktops;
  readonly processes: InstanceProcesses;
  readonly reconciler: InstanceReconciler;
  /** Live instance count (STARTING, READY, RESTARTING, STOPPING). */
  readonly liveCount: () => Promise<number>;
  /** The warm pool's hand-out: a READY instance assigned to `req`, or undefined when none fits. */
  readonly takeWarm?: (
    req: StartRequest,
    effective: EffectiveSettings,
  ) => Promise<InstanceRecord | undefined>;
}

/** What the warm pool starts: an instance with no owner, no server and no request of a caller. */
export interface WarmStartRequest {
  readonly requestId: string;
  readonly settings: StartRequest["settings"];
}

/** Starts instances (StartInstance), once per request id. */
export class InstanceStarter {
  private readonly ports: NodePorts;

  constructor(private readonly deps: InstanceStarterOptions) {
    this.ports = new NodePorts({
      range: deps.opts.portRange ?? { start: 3390, end: 3489 },
      listenAddress: deps.opts.listenAddress,
      livePorts: async () => (await deps.records.listLive()).map((r) => r.port),
    });
  }

  /**
   * Validates, renders and writes the instance's config, stores it STARTING and spawns xrdp in the
   * background. Invalid settings or values are rejected before anything is written. Idempotent by
   * request id: a retry, concurrent or after a crash, gets the first call's instance (supervised
   * again if no life of the service supervises it now).
   * @throws RequestParamsChangedError when the request id came with other parameters
   */
  async start(req: StartRequest): Promise<InstanceRecord> {
    if (this.deps.state.closed) throw new ShuttingDownError();
    const bin = this.deps.opts.xrdpBin;
    if (bin === undefined)
      throw new XrdpUnavailableError(this.deps.opts.xrdpMissingReason ?? "not found");
    const effective: EffectiveSettings = resolveSettings(
      req.settings,
      this.deps.opts.defaults,
      this.deps.opts.floor,
    );
    checkOwner(req.owner, effective.allowRootLogin);
    if (req.port === 0 && !this.deps.opts.door) throw new PortRequiredError();
    const id = instanceIdFor(req.requestId);
    let first = this.deps.state.starting.get(id);
    if (first === undefined) {
      first = this.startOnce(req, id, bin, effective).finally(() =>
        this.deps.state.starting.delete(id),
      );
      this.deps.state.starting.set(id, first);
    }
    const record = await first;
    checkSameRequest(req.requestId, record, req);
    return record;
  }

  /**
   * Starts an instance for the warm pool: no owner (its xrdp.ini admits no one), no server, a port
   * of the node's choosing. Handed out later by `takeWarm`.
   */
  async startWarm(req: WarmStartRequest): Promise<InstanceRecord> {
    if (this.deps.state.closed) throw new ShuttingDownError();
    const bin = this.deps.opts.xrdpBin;
    if (bin === undefined)
      throw new XrdpUnavailableError(this.deps.opts.xrdpMissingReason ?? "not found");
    const effective = resolveSettings(req.settings, this.deps.opts.defaults, this.deps.opts.floor);
    return this.startNew(
      { requestId: req.requestId, serverId: "", port: 0, settings: req.settings },
      instanceIdFor(req.requestId),
      bin,
      effective,
    );
  }

  private async startOnce(
    req: StartRequest,
    id: string,
    bin: string,
    effective: EffectiveSettings,
  ): Promise<InstanceRecord> {
    // A warm instance handed to this request id by an earlier call has the pool's id: looked for
    // beside the request's own id.
    const [own, handed] = await Promise.all([
      this.deps.records.find(id),
      req.port === 0 ? this.deps.records.findByRequestId(req.requestId) : undefined,
    ]);
    const existing = own ?? handed;
    if (existing !== undefined) {
      checkSameRequest(req.requestId, existing, req);
      if (this.deps.state.live.has(existing.id) || !isLiveState(existing.state)) return existing;
      // Stored by a life that died, or by a write whose answer was lost: supervised from now on.
      await this.deps.reconciler.resume(existing, findOurProcesses(this.deps.opts.stateDir));
      return this.deps.records.get(existing.id);
    }
    if (req.port === 0) {
      const warm = await this.deps.takeWarm?.(req, effective);
      if (warm !== undefined) return warm;
    }
    return this.startNew(req, id, bin, effective);
  }

  /** Starts a new instance: capacity, port, displays, folder, record, then xrdp. */
  private async startNew(
    req: Omit<StartRequest, "owner"> & { readonly owner?: string },
    id: string,
    bin: string,
    effective: EffectiveSettings,
  ): Promise<InstanceRecord> {
    if ((await this.deps.liveCount()) >= this.deps.opts.maxInstances) {
      throw new CapacityExceededError(this.deps.opts.maxInstances);
    }
    const port = req.port === 0 ? await this.ports.choose() : req.port;
    try {
      if (req.port !== 0 && !(await portIsFree(this.deps.opts.listenAddress, port)))
        throw new PortInUseError(port);
      // The block is held in memory until the record holds it.
      const desktop = await this.deps.desktops.choose(id, effective.maxSessions);
      try {
        return await this.startChosen(req, port, bin, effective, id, desktop);
      } finally {
        this.deps.desktops.settle(id);
      }
    } finally {
      this.ports.settle(port);
    }
  }

  private async startChosen(
    req: Omit<StartRequest, "owner"> & { readonly owner?: string },
    port: number,
    bin: string,
    effective: EffectiveSettings,
    id: string,
    desktop: DesktopAllocation | undefined,
  ): Promise<InstanceRecord> {
    const warm = req.owner === undefined;
    const plan = planInstanceFolder({
      stateDir: this.deps.opts.stateDir,
      id,
      listenAddress: this.deps.opts.listenAddress,
      port,
      owner: req.owner,
      effective,
      tls: this.deps.opts.tls,
      sesmanAddress: desktop?.sesmanAddress,
    });
    const { settings } = plan;
    const dir = plan.paths.dir;
    // A block is clean when it is handed out: no desktop or stale file of an earlier life.
    if (desktop) await this.deps.desktops.prepare(dir, desktop, settings);

    let record: InstanceRecord;
    // Supervised from before its record exists: a reconcile running meanwhile (the service's first
    // moments) must not take the STARTING record without a pid for one a crash left behind.
    this.deps.state.live.set(id, newSupervisedInstance());
    try {
      // A reconcile may be removing this folder as an orphan of an earlier, failed try.
      await this.deps.state.folderSweep;
      const sha256 = await writeInstanceFolder(plan, () => this.deps.opts.keyPool?.take());
      record = await this.deps.records.insert(
        {
          id,
          requestId: req.requestId,
          serverId: req.serverId,
          port,
          ...(req.port !== port && { requestedPort: req.port }),
          ...(warm && { warm: true, pooled: true }),
          state: "STARTING",
          restartCount: 0,
          settings: { ...req.settings },
          effectiveSettings: { ...settings },
          tlsCertSha256: sha256,
          configDir: dir,
          ...(req.owner !== undefined && { owner: req.owner }),
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
      this.deps.state.live.delete(id);
      // Unreachable store: the insert may have landed all the same. The folder stays, so that a
      // retry or the next reconcile can start the instance from it; otherwise nothing is left.
      if (!(e instanceof BackendUnavailableError)) await rm(dir, { recursive: true, force: true });
      throw e;
    }
    this.deps.processes.launch(record, bin);
    return record;
  }
}
