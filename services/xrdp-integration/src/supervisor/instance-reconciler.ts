/**
 * Reconciles stored instances with the process table, at the service's start and then at an
 * interval: live records no life supervises are adopted, started, stopped or marked FAILED; our
 * processes of no live record are strays and get SIGKILL; instance folders no record names are
 * removed. Nothing else is touched.
 */
import { existsSync } from "node:fs";
import { instancePaths } from "../domain/instance-paths.js";
import type { InstanceRecord } from "../store/records.js";
import type { InstanceDesktops } from "./instance-desktops.js";
import type { InstanceProcesses } from "./instance-processes.js";
import type { InstanceReadiness } from "./instance-readiness.js";
import type { InstanceChanges, InstanceRecords } from "./instance-records.js";
import { removeOrphanFolders } from "./orphan-folders.js";
import { findOurProcesses, killGroup, type OurProcess } from "./our-processes.js";
import { endInstanceDesktops, type SupervisorState } from "./supervised-instance.js";
import type { ReconcileResult, SupervisorOptions } from "./supervisor-options.js";

/** What {@link InstanceReconciler} works with. */
export interface InstanceReconcilerOptions {
  readonly opts: SupervisorOptions;
  readonly state: SupervisorState;
  readonly records: InstanceRecords;
  readonly desktops: InstanceDesktops;
  readonly processes: InstanceProcesses;
  readonly readiness: InstanceReadiness;
}

/** What became of a live record no life supervised. */
export type ResumeOutcome = "adopted" | "stopping" | "started" | "missing";

/** Takes stored instances no life supervises, and clears what no record names. */
export class InstanceReconciler {
  private reconciling: Promise<ReconcileResult> | undefined;

  constructor(private readonly deps: InstanceReconcilerOptions) {}

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
        await this.deps.records
          .relay()
          .catch((e: unknown) =>
            this.deps.opts.logger.warn({ err: e }, "outbox relay: next round"),
          );
        return result;
      })
      .finally(() => {
        this.reconciling = undefined;
      });
    return this.reconciling;
  }

  private async reconcileNow(): Promise<ReconcileResult> {
    const { opts, state } = this.deps;
    const result: ReconcileResult = {
      adopted: [],
      started: [],
      missing: [],
      strays: [],
      folders: [],
    };
    if (state.closed) return result;
    const records = await this.deps.records.listLive(500);
    const listed = new Set(records.map((r) => r.id));
    // Read after the records: whatever is spawned from now on belongs to an instance in `live`.
    const procs = findOurProcesses(opts.stateDir);
    for (const r of records) {
      // Supervised by this life (started, adopted or resumed already): not a leftover. Its record
      // must name the xrdp that runs for it: a pid write an outage lost is written again.
      const supervised = state.live.get(r.id);
      if (supervised !== undefined) {
        const h = supervised.handle;
        if (h !== undefined && !supervised.stopping && r.pid !== h.pid && r.state === "READY") {
          opts.logger.info({ instance: r.id, pid: h.pid }, "recording the pid the record lacks");
          await this.deps.records.recordPid(r.id, h.pid, h.startTicks);
        }
        continue;
      }
      if (state.closed) continue;
      const outcome = await this.resume(r, procs);
      if (outcome === "adopted" || outcome === "stopping") result.adopted.push(r.id);
      else if (outcome === "started") result.started.push(r.id);
      else result.missing.push(r.id);
    }
    for (const p of procs) {
      if (state.live.has(p.instanceId) || state.closed) continue;
      result.strays.push(p.pid);
      killGroup(p.pid);
    }
    const sweep = removeOrphanFolders({
      stateDir: opts.stateDir,
      // Listed records need no look-up; only folders of ended or no records do.
      busy: (id) => listed.has(id) || state.starting.has(id) || state.live.has(id) || state.closed,
      stored: async (id) => (await this.deps.records.find(id)) !== undefined,
    });
    state.folderSweep = sweep.catch(() => undefined);
    result.folders.push(...(await sweep));
    if (Object.values(result).some((v) => v.length > 0)) {
      opts.logger.info(result, "reconciled instances");
    }
    return result;
  }

  /**
   * Takes a live record that no life of the service supervises: adopts its processes (by pid and
   * start time, else by its folder in their command line), or starts it, or ends it.
   */
  async resume(r: InstanceRecord, procs: readonly OurProcess[]): Promise<ResumeOutcome> {
    const { opts, records, processes, readiness } = this.deps;
    // Claimed before the first await: a concurrent retry or reconcile leaves it alone.
    const live = processes.adopt(r, procs);
    const { handle, sesman } = live;
    if (sesman) processes.watchSesman(r.id, sesman);
    if (handle) processes.watch(r.id, handle);
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
      void records
        .transition(r.id, r.state, found)
        .catch((e: unknown) =>
          opts.logger.error({ err: e, instance: r.id }, "recording the adopted pid failed"),
        );
    }
    if (r.state === "STOPPING") {
      // Caught mid-stop: stopped now.
      void processes
        .stop(r.id, { reason: r.stateReason ?? "STOP_REQUESTED" })
        .catch((e: unknown) =>
          opts.logger.error({ err: e, instance: r.id }, "finishing a stop failed"),
        );
      return "stopping";
    }
    if (handle) {
      if (!sesman && r.sesmanAddress !== undefined) {
        // xrdp lived on but its sesman did not: start a new one (the desktops are gone).
        await processes.ensureSesman(r, live).catch((e: unknown) => {
          opts.logger.error({ err: e, instance: r.id }, "xrdp-sesman could not be started");
          handle.killGroup("SIGKILL");
        });
      }
      readiness.readyInBackground(r.id, handle, r.port);
      return "adopted";
    }
    const bin = opts.xrdpBin;
    const configured = existsSync(instancePaths(opts.stateDir, r.id).xrdpIni);
    if ((r.state === "STARTING" || r.state === "RESTARTING") && bin && configured) {
      // Stored, never spawned (or waiting for its restart) when the last life ended: spawned now.
      processes.launch(r, bin);
      return "started";
    }
    const failed = await records.transition(r.id, "FAILED", {
      stateReason: "PROCESS_MISSING",
      stateMessage: `no live process for pid ${r.pid ?? "none"} at service start`,
      pid: undefined,
      pidStartTicks: undefined,
    });
    // An instance without its xrdp has no desktops either.
    await endInstanceDesktops(this.deps.desktops, failed, live, 0);
    return "missing";
  }
}
