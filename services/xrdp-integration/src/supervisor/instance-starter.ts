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
}

/** Starts instances (StartInstance), once per request id. */
export class InstanceStarter {
  constructor(private readonly deps: InstanceStarterOptions) {}

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

  private async startOnce(
    req: StartRequest,
    id: string,
    bin: string,
    effective: EffectiveSettings,
  ): Promise<InstanceRecord> {
    const existing = await this.deps.records.find(id);
    if (existing !== undefined) {
      checkSameRequest(req.requestId, existing, req);
      if (this.deps.state.live.has(id) || !isLiveState(existing.state)) return existing;
      // Stored by a life that died, or by a write whose answer was lost: supervised from now on.
      await this.deps.reconciler.resume(existing, findOurProcesses(this.deps.opts.stateDir));
      return this.deps.records.get(id);
    }
    if ((await this.deps.liveCount()) >= this.deps.opts.maxInstances) {
      throw new CapacityExceededError(this.deps.opts.maxInstances);
    }
    if (!(await portIsFree(this.deps.opts.listenAddress, req.port)))
      throw new PortInUseError(req.port);
    // The block is held in memory until the record holds it.
    const desktop = await this.deps.desktops.choose(id, effective.maxSessions);
    try {
      return await this.startChosen(req, bin, effective, id, desktop);
    } finally {
      this.deps.desktops.settle(id);
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
      stateDir: this.deps.opts.stateDir,
      id,
      listenAddress: this.deps.opts.listenAddress,
      port: req.port,
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
