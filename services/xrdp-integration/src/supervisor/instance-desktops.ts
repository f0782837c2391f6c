/**
 * The desktops side of instances (XRDP_SESMAN=managed): which block of X displays and which
 * sesman endpoint a new instance gets, starting an instance's own xrdp-sesman, ending an
 * instance's desktops, and the host's desktop capacity. The supervisor owns the processes' life
 * cycle and records; this owns what is true of displays and desktops.
 *
 * A desktop on a display of an instance's block is that instance's: its X server, the session
 * parent's tree and anything carrying DISPLAY in the block (host/x-displays.ts). Ending desktops
 * is SIGTERM, SIGKILL after a grace time, then removing the block's stale display files.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@lucid-rdp/runtime";
import {
  allocateDisplayBlock,
  blockSizeFor,
  type DisplayBlock,
  type DisplayRange,
  freeDisplays,
} from "../domain/display-blocks.js";
import { DisplaysExhaustedError } from "../domain/instance-errors.js";
import { instancePaths } from "../domain/instance-paths.js";
import type { EffectiveSettings } from "../domain/xrdp-settings.js";
import { desktopProcesses, removeStaleDisplayFiles } from "../host/x-displays.js";
import type { InstanceRecord } from "../store/records.js";
import type { InstanceRecords } from "./instance-records.js";
import {
  randomSesmanAddress,
  renderInstanceSesmanIni,
  startInstanceSesman,
} from "./instance-sesman.js";
import { portIsFree } from "./port-free.js";
import { adoptProcess, type ProcessHandle } from "./process-handle.js";
import { inSockdirNamespace, xrdpSeries, xrdpSocketDir } from "./sockdir-namespace.js";
import type { DesktopHostOptions } from "./supervisor-options.js";

/** What a desktop needs on the host: Debian's Xorg and the xorgxrdp driver. */
const xBackendFiles: readonly (readonly [string, string])[] = [
  ["/usr/lib/xorg/Xorg", "Xorg (package xserver-xorg-core)"],
  ["/usr/lib/xorg/modules/drivers/xrdpdev_drv.so", "xorgxrdp (package xorgxrdp)"],
];

export interface InstanceDesktopsOptions extends DesktopHostOptions {
  /** Where the live instances (and the display blocks they hold) are read. */
  readonly records: Pick<InstanceRecords, "listLive">;
  readonly logger: Logger;
  /** Instance directories live under it. */
  readonly stateDir: string;
  /** The session limit of instances that ask for none: it sizes the blocks capacity counts in. */
  readonly defaultMaxSessions: number;
}

/** A new instance's share of the host: its displays and its sesman's address. */
export interface DesktopAllocation {
  readonly block: DisplayBlock;
  readonly sesmanAddress: string;
}

export class InstanceDesktops {
  /** Serializes the choice of display blocks and sesman addresses. */
  private choosing: Promise<unknown> = Promise.resolve();
  /** Blocks chosen for instances whose record is not stored yet. */
  private readonly pending = new Map<string, DisplayBlock>();

  constructor(private readonly opts: InstanceDesktopsOptions) {}

  /** Whether the service runs a sesman per instance (XRDP_SESMAN=managed). */
  owns(): boolean {
    return this.opts.sesmanBin !== undefined;
  }

  series(): "0.9" | "0.10" {
    return xrdpSeries(this.opts.xrdpVersion) ?? "0.9";
  }

  /** xrdp 0.10 with a sesman per instance: the instance's own socket directory. */
  sockdirOf(id: string): string | undefined {
    if (!this.owns() || this.series() !== "0.10") return undefined;
    return join(instancePaths(this.opts.stateDir, id).dir, "sockdir");
  }

  sesmanPort(): number {
    return this.opts.sesmanPort ?? 3350;
  }

  range(): DisplayRange {
    return this.opts.displayRange ?? { first: 10, last: 299 };
  }

  /** xrdp's command line: under 0.10, in the instance's socket-directory namespace. */
  xrdpCommand(id: string, bin: string, args: string[]): { bin: string; args: string[] } {
    const sockdir = this.sockdirOf(id);
    return sockdir
      ? inSockdirNamespace(this.opts.namespace ?? {}, sockdir, bin, args)
      : { bin, args };
  }

  /**
   * Chooses a block of displays and a sesman address for instance `id`, or undefined with the
   * host's sesman. Held in memory until `settle(id)`, once the record holds it (or the start
   * failed).
   */
  choose(id: string, maxSessions: number): Promise<DesktopAllocation | undefined> {
    const chosen = this.choosing.then(() => this.chooseNow(id, maxSessions));
    this.choosing = chosen.catch(() => undefined);
    return chosen;
  }

  settle(id: string): void {
    this.pending.delete(id);
  }

  private async chooseNow(id: string, maxSessions: number): Promise<DesktopAllocation | undefined> {
    if (!this.owns()) return undefined;
    const taken = await this.takenBlocks();
    const size = blockSizeFor(maxSessions);
    const block = allocateDisplayBlock(taken, this.range(), size);
    if (block === undefined)
      throw new DisplaysExhaustedError(size, freeDisplays(taken, this.range()));
    for (let attempt = 0; attempt < 20; attempt++) {
      const address = randomSesmanAddress();
      if (await portIsFree(address, this.sesmanPort())) {
        this.pending.set(id, block);
        return { block, sesmanAddress: address };
      }
    }
    throw new Error("no free loopback address for the instance's xrdp-sesman after 20 tries");
  }

  /**
   * Checks the instance's sesman.ini renders (IniValueError before anything exists) and cleans
   * the block: no desktop or stale file of an earlier life.
   */
  async prepare(
    dir: string,
    allocation: DesktopAllocation,
    settings: EffectiveSettings,
  ): Promise<void> {
    if (this.opts.sesmanBin === undefined) return;
    renderInstanceSesmanIni({
      bin: this.opts.sesmanBin,
      dir,
      address: allocation.sesmanAddress,
      port: this.sesmanPort(),
      block: allocation.block,
      settings,
      xrdpVersion: this.series(),
    });
    await this.endBlock(allocation.block, 0);
  }

  /** Display blocks of every live instance, and of those being created. */
  private async takenBlocks(): Promise<DisplayBlock[]> {
    const blocks: DisplayBlock[] = [...this.pending.values()];
    for (const r of await this.opts.records.listLive()) {
      const b = blockOf(r);
      if (b) blocks.push(b);
    }
    return blocks;
  }

  /** The node's free displays and how many more instances (default session limit) fit. */
  async capacity(): Promise<{
    range: DisplayRange;
    free: number;
    blockSize: number;
    instancesLeft: number;
  }> {
    const taken = await this.takenBlocks();
    const range = this.range();
    const blockSize = blockSizeFor(this.opts.defaultMaxSessions);
    let left = 0;
    const blocks = [...taken];
    for (;;) {
      const b = allocateDisplayBlock(blocks, range, blockSize);
      if (b === undefined) break;
      blocks.push(b);
      left++;
    }
    return { range, free: freeDisplays(taken, range), blockSize, instancesLeft: left };
  }

  /** Whether a new instance could start a desktop now, and what is missing. */
  async availability(): Promise<{ ok: true } | { ok: false; reason: string }> {
    if (!this.owns()) return { ok: true };
    for (const [path, what] of xBackendFiles) {
      if (!existsSync(path)) return { ok: false, reason: `${what} is not installed (${path})` };
    }
    const c = await this.capacity();
    if (c.instancesLeft === 0) {
      return {
        ok: false,
        reason: `no X displays left: ${c.free} of ${c.range.first}-${c.range.last} free, ${c.blockSize} needed per instance (XRDP_DISPLAY_RANGE)`,
      };
    }
    return { ok: true };
  }

  /**
   * Ends every desktop on `block`: SIGTERM to their processes, SIGKILL to what is left after
   * `graceMs`, then removes the stale display files. Nothing outside the block is touched.
   */
  async endBlock(block: DisplayBlock, graceMs: number, socketRoots: readonly string[] = []) {
    const signal = (sig: NodeJS.Signals) => {
      let n = 0;
      for (const p of desktopProcesses(block)) {
        try {
          process.kill(p.pid, sig);
          n++;
        } catch {
          // gone already
        }
      }
      return n;
    };
    if (graceMs > 0 && signal("SIGTERM") > 0) {
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && desktopProcesses(block).length > 0) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (let round = 0; round < 5 && signal("SIGKILL") > 0; round++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.removeStale(block, socketRoots);
  }

  /** Removes the files of the block's displays no X server holds (stale locks and sockets). */
  cleanStale(record: InstanceRecord): void {
    const b = blockOf(record);
    if (b) this.removeStale(b, this.socketRootsOf(record.id), record.id);
  }

  private removeStale(block: DisplayBlock, socketRoots: readonly string[], instance?: string) {
    const cleaned = removeStaleDisplayFiles(block, this.opts.displayFiles, socketRoots);
    if (cleaned.length > 0) {
      this.opts.logger.info({ instance, displays: cleaned }, "removed stale X display files");
    }
  }

  private socketRootsOf(id: string): string[] {
    const sockdir = this.sockdirOf(id);
    return sockdir ? [sockdir] : [];
  }

  /**
   * Ends an instance's sesman (its process group holds the desktops; `sesman`, or the one its
   * record names) and every desktop of its block.
   */
  async endInstance(
    record: InstanceRecord,
    sesman: ProcessHandle | undefined,
    graceMs: number,
  ): Promise<void> {
    const handle =
      sesman ??
      (record.sesmanPid !== undefined && record.sesmanStartTicks !== undefined
        ? adoptProcess(record.sesmanPid, record.sesmanStartTicks)
        : undefined);
    if (handle) {
      handle.killGroup(graceMs > 0 ? "SIGTERM" : "SIGKILL");
      const ended = await Promise.race([
        handle.exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref()),
      ]);
      if (!ended) handle.killGroup("SIGKILL");
      handle.killGroup("SIGKILL");
    }
    const b = blockOf(record);
    if (b) await this.endBlock(b, graceMs, this.socketRootsOf(record.id));
  }

  /**
   * Starts the instance's own sesman, after ending whatever a dead one left on its block, or
   * undefined when the instance has none (XRDP_SESMAN=off).
   */
  async startSesman(record: InstanceRecord): Promise<ProcessHandle | undefined> {
    const bin = this.opts.sesmanBin;
    if (bin === undefined || record.sesmanAddress === undefined) return undefined;
    const block = blockOf(record) ?? { first: 0, count: 0 };
    const sockdir = this.sockdirOf(record.id);
    await this.endBlock(block, 0, this.socketRootsOf(record.id));
    if (sockdir !== undefined) {
      await mkdir(xrdpSocketDir, { recursive: true, mode: 0o755 });
      await mkdir(sockdir, { recursive: true });
      // As Debian's own: every user's session makes its folder here; sticky, group kept.
      await chmod(sockdir, 0o3777);
    }
    return startInstanceSesman({
      bin,
      dir: instancePaths(this.opts.stateDir, record.id).dir,
      address: record.sesmanAddress,
      port: this.sesmanPort(),
      block,
      settings: record.effectiveSettings as unknown as EffectiveSettings,
      xrdpVersion: this.series(),
      sockdir,
      namespace: this.opts.namespace,
    });
  }
}

function blockOf(r: InstanceRecord): DisplayBlock | undefined {
  return r.displayFirst !== undefined && r.displayCount !== undefined
    ? { first: r.displayFirst, count: r.displayCount }
    : undefined;
}
