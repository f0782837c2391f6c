/**
 * The processes of supervised instances: xrdp (and, with XRDP_SESMAN=managed, its own
 * xrdp-sesman) spawned each in its own process group, adopted from an earlier life by pid and
 * start time or by the instance folder in their command line, restarted after an unexpected exit
 * with exponential backoff until a crash loop marks the instance FAILED, and stopped: SIGTERM,
 * then SIGKILL to the group after a grace time, and the port checked bindable again.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "@lucid-rdp/runtime";
import { instancePaths } from "../domain/instance-paths.js";
import type { InstanceStateReason } from "../domain/instance-states.js";
import { isCrashLoop, recentExits, restartDelayMs } from "../domain/restart-policy.js";
import type { InstanceRecord } from "../store/records.js";
import type { InstanceDesktops } from "./instance-desktops.js";
import type { InstanceReadiness } from "./instance-readiness.js";
import type { InstanceRecords } from "./instance-records.js";
import { findOurProcesses, killGroup, type OurProcess } from "./our-processes.js";
import { portIsFree } from "./port-free.js";
import {
  adoptProcess,
  type ProcessExitInfo,
  type ProcessHandle,
  spawnProcess,
} from "./process-handle.js";
import {
  endInstanceDesktops,
  newSupervisedInstance,
  type SupervisedInstance,
  type SupervisorState,
} from "./supervised-instance.js";
import type { SupervisorOptions } from "./supervisor-options.js";

/** What {@link InstanceProcesses} works with. */
export interface InstanceProcessesOptions {
  readonly opts: SupervisorOptions;
  readonly state: SupervisorState;
  readonly records: InstanceRecords;
  readonly desktops: InstanceDesktops;
  readonly readiness: InstanceReadiness;
  readonly clock: Clock;
}

/** Options of {@link InstanceProcesses.stop}. */
export interface StopOptions {
  /** How long xrdp has after SIGTERM. @default the supervisor's stopGraceMs */
  readonly graceMs?: number;
  /** SIGKILL at once. */
  readonly force?: boolean;
  /** @default "STOP_REQUESTED" */
  readonly reason?: InstanceStateReason;
}

/** Spawns, adopts, watches, restarts and stops the processes of supervised instances. */
export class InstanceProcesses {
  constructor(private readonly deps: InstanceProcessesOptions) {}

  /** Spawns the instance off the request path: its outcome is the record's business. */
  launch(record: InstanceRecord, bin: string): void {
    void this.spawn(record, bin).catch((e: unknown) =>
      this.deps.opts.logger.error({ err: e, instance: record.id }, "starting xrdp failed"),
    );
  }

  /** Stops an instance: SIGTERM, then SIGKILL to its group after the grace time. */
  async stop(id: string, opts: StopOptions = {}): Promise<InstanceRecord> {
    const { opts: o, state, records } = this.deps;
    const record = await records.get(id);
    if (record.state === "STOPPED" || record.state === "FAILED") {
      return record; // idempotent: already ended
    }
    // Not supervised yet (a stop before the reconcile took it): its processes are found first,
    // or the stop would leave them running and call the instance STOPPED.
    const live = state.live.get(id) ?? this.adopt(record, findOurProcesses(o.stateDir));
    live.stopping = true;
    clearTimeout(live.restartTimer);
    clearInterval(live.healthTimer);
    const reason = opts.reason ?? "STOP_REQUESTED";
    await records.transition(id, "STOPPING", {
      stateReason: reason,
      stateMessage: "stopping",
    });
    const handle = live.handle;
    const grace = opts.force ? 0 : (opts.graceMs ?? o.stopGraceMs);
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
    while (!(await portIsFree(o.listenAddress, record.port)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    live.handle = undefined;
    await endInstanceDesktops(
      this.deps.desktops,
      record,
      live,
      opts.force ? 0 : Math.min(grace, 5_000),
    );
    // Key material and config go with the instance.
    if (record.configDir !== undefined)
      await rm(record.configDir, { recursive: true, force: true });
    return records.transition(id, "STOPPED", {
      stateReason: reason,
      stateMessage: "stopped",
      pid: undefined,
      pidStartTicks: undefined,
      processStartTime: undefined,
      sesmanPid: undefined,
      sesmanStartTicks: undefined,
      stopTime: this.deps.clock(),
    });
  }

  /**
   * Supervises from now on an instance no life of the service supervises: its processes are
   * found by pid and start time, else by the instance folder in their command line; any other
   * process of the instance is killed (never two of a kind). Synchronous: nothing else can claim
   * the instance meanwhile.
   */
  adopt(r: InstanceRecord, procs: readonly OurProcess[]): SupervisedInstance {
    const live = newSupervisedInstance();
    this.deps.state.live.set(r.id, live);
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

  /** Starts the instance's sesman if it has none running (XRDP_SESMAN=managed). */
  async ensureSesman(record: InstanceRecord, live: SupervisedInstance): Promise<void> {
    if (live.sesman) return;
    const handle = await this.deps.desktops.startSesman(record);
    if (handle === undefined) return;
    live.sesman = handle;
    await this.deps.records.transition(record.id, record.state, {
      sesmanPid: handle.pid,
      sesmanStartTicks: handle.startTicks,
    });
    this.watchSesman(record.id, handle);
  }

  /** sesman gone while the instance lives: xrdp is killed too, and the crash path restarts both. */
  watchSesman(id: string, handle: ProcessHandle): void {
    const { state, opts } = this.deps;
    void handle.exited.then((exit) => {
      const live = state.live.get(id);
      if (live === undefined || live.sesman !== handle) return;
      live.sesman = undefined;
      if (live.stopping || state.closed) return;
      opts.logger.warn(
        { instance: id, exit, output: handle.output.slice(-5) },
        "xrdp-sesman of the instance exited: restarting the instance",
      );
      live.handle?.killGroup("SIGKILL");
    });
  }

  /** Handles the exit of the instance's xrdp (onExit) when it comes. */
  watch(id: string, handle: ProcessHandle): void {
    void handle.exited
      .then((exit) => this.onExit(id, handle, exit))
      .catch((e: unknown) =>
        this.deps.opts.logger.error({ err: e, instance: id }, "handling the exit of xrdp failed"),
      );
  }

  private async spawn(record: InstanceRecord, bin: string): Promise<void> {
    const { opts, state, records } = this.deps;
    const live = state.live.get(record.id);
    if (live === undefined || live.stopping || state.closed) return;
    try {
      await this.ensureSesman(record, live);
    } catch (e) {
      opts.logger.error({ err: e, instance: record.id }, "xrdp-sesman could not be started");
      const failed = await records.transition(record.id, "FAILED", {
        stateReason: "PROCESS_EXITED",
        stateMessage: `xrdp-sesman could not be started: ${e instanceof Error ? e.message : String(e)}`,
      });
      await endInstanceDesktops(this.deps.desktops, failed, live, 0);
      return;
    }
    // Stopped while its sesman was being started (a shutdown during a warm start): the stop saw
    // no sesman to end, so it goes here, and xrdp is not spawned.
    if (live.stopping) {
      live.sesman?.killGroup("SIGKILL");
      live.sesman = undefined;
      return;
    }
    const paths = instancePaths(opts.stateDir, record.id);
    const args = ["--nodaemon", "--port", `tcp://${opts.listenAddress}:${record.port}`];
    const cmd = this.deps.desktops.xrdpCommand(record.id, bin, [
      ...args,
      "--config",
      paths.xrdpIni,
    ]);
    let handle: ProcessHandle;
    try {
      handle = await spawnProcess(cmd.bin, cmd.args, { outputFile: join(paths.dir, "xrdp.out") });
    } catch (e) {
      await records.transition(record.id, "FAILED", {
        stateReason: "PROCESS_EXITED",
        stateMessage: `spawn failed: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    if (live.stopping) {
      // Stopped while it was being spawned: the stop saw no process to end.
      handle.killGroup("SIGKILL");
      live.sesman?.killGroup("SIGKILL");
      live.sesman = undefined;
      return;
    }
    live.handle = handle;
    // Watched before the pid is written: during a store outage the write waits, supervision not.
    this.watch(record.id, handle);
    this.deps.readiness.readyInBackground(record.id, handle, record.port);
    await records.transition(record.id, "STARTING", {
      pid: handle.pid,
      pidStartTicks: handle.startTicks,
      processStartTime: this.deps.clock(),
      nextRestartTime: undefined,
    });
  }

  private async onExit(id: string, handle: ProcessHandle, exit: ProcessExitInfo): Promise<void> {
    const { opts, state, records } = this.deps;
    const live = state.live.get(id);
    if (live === undefined || live.handle !== handle) return;
    clearInterval(live.healthTimer);
    // Whatever xrdp forked must not outlive it.
    handle.killGroup("SIGKILL");
    live.handle = undefined;
    if (live.stopping || state.closed) return;
    const now = this.deps.clock().getTime();
    live.exits = recentExits(live.exits, now, opts);
    const lastExit = {
      exitCode: exit.exitCode,
      signal: exit.signal,
      time: new Date(now),
    };
    const current = await records.read(id);
    if (current === undefined || current.state === "FAILED" || current.state === "STOPPED") return;
    if (live.handle !== undefined || live.stopping) return; // respawned or stopped meanwhile
    opts.logger.warn(
      { instance: id, exit, output: handle.output.slice(-5) },
      "xrdp exited unexpectedly",
    );
    if (isCrashLoop(live.exits, opts)) {
      const failed = await records.transition(id, "FAILED", {
        stateReason: "CRASH_LOOP",
        stateMessage: `${live.exits.length} exits within ${opts.crashLoopWindowMs} ms`,
        lastExit,
        pid: undefined,
        pidStartTicks: undefined,
      });
      await endInstanceDesktops(this.deps.desktops, failed, live, 0);
      return;
    }
    const delay = restartDelayMs(current.restartCount, opts);
    const restarting = await records.transition(id, "RESTARTING", {
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
      const bin = opts.xrdpBin;
      if (bin === undefined) return;
      void this.spawn(restarting, bin).catch((e: unknown) =>
        opts.logger.error({ err: e, instance: id }, "restart failed"),
      );
    }, delay);
    live.restartTimer.unref();
  }
}
