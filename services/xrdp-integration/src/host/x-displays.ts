/**
 * The X displays of this host as files and processes: which processes make up the desktops of a
 * block of displays, and which display files are stale. Read from /proc and the file system, no
 * subprocesses.
 *
 * A desktop on display N is its X server (`Xorg :N` or `Xvnc :N`), the sesman child that started
 * it with everything below it, and every process that carries `DISPLAY=:N` in its environment
 * (which catches daemons that left the tree by a double fork, such as dbus-daemon or ssh-agent).
 *
 * An X server that dies by SIGKILL leaves `/tmp/.X<N>-lock` and `/tmp/.X11-unix/X<N>`, and xrdp
 * leaves its sockets for N (`/run/xrdp/sockdir/*_<N>` in 0.9, `/run/xrdp/<uid>/*_<N>` in 0.10).
 * sesman skips every display with such a file, so they are removed once no live X server holds N.
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { findProcesses, listDescendants, type ProcessInfo, readEnviron } from "@lucid-rdp/proc";
import type { DisplayBlock } from "../domain/display-blocks.js";

/** Where X and xrdp keep per-display files; tests point them elsewhere. */
export interface DisplayFileRoots {
  /** @default "/tmp" */
  readonly tmp?: string;
  /** @default "/run/xrdp" */
  readonly xrdpRun?: string;
}

const xServerNames = new Set(["Xorg", "Xvnc", "Xvfb", "Xephyr"]);

/** The display an X server process serves (its `:N` argument), or undefined if it is not one. */
export function xServerDisplay(p: Pick<ProcessInfo, "cmdline">): number | undefined {
  const [exe, ...args] = p.cmdline;
  if (exe === undefined) return undefined;
  const base = exe.slice(exe.lastIndexOf("/") + 1);
  if (!xServerNames.has(base)) return undefined;
  for (const a of args) {
    const m = /^:(\d{1,5})$/.exec(a);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The display of a `DISPLAY` value such as `:11` or `:11.0` (local displays only). */
export function displayOfEnv(value: string): number | undefined {
  const m = /^(?:unix)?:(\d{1,5})(?:\.\d+)?$/.exec(value);
  return m ? Number(m[1]) : undefined;
}

function inBlock(block: DisplayBlock, display: number | undefined): boolean {
  return display !== undefined && display >= block.first && display < block.first + block.count;
}

function environDisplay(pid: number): number | undefined {
  let display: string | undefined;
  try {
    display = readEnviron(pid)?.get("DISPLAY");
  } catch {
    return undefined; // gone, or not ours to read
  }
  return display === undefined ? undefined : displayOfEnv(display);
}

/**
 * Every process of the desktops on `block`: X servers of the block, their parents' trees when
 * the parent is a sesman child (the session), and processes whose DISPLAY is in the block. The
 * service's own pid is never included.
 */
export function desktopProcesses(block: DisplayBlock): ProcessInfo[] {
  const all = findProcesses(() => true);
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const picked = new Map<number, ProcessInfo>();
  for (const p of all) {
    if (p.pid === process.pid) continue;
    if (inBlock(block, xServerDisplay(p))) {
      picked.set(p.pid, p);
      const parent = byPid.get(p.stat.ppid);
      // The session's parent: sesman's child in 0.9, xrdp-sesexec in 0.10.
      if (parent && /xrdp-ses(man|exec)$/.test(parent.cmdline[0] ?? "")) {
        picked.set(parent.pid, parent);
        for (const d of listDescendants(parent.pid)) {
          const info = byPid.get(d.pid);
          if (info) picked.set(d.pid, info);
        }
      }
    } else if (p.stat.ppid !== 0 && inBlock(block, environDisplay(p.pid))) {
      picked.set(p.pid, p);
    }
  }
  picked.delete(process.pid);
  return [...picked.values()];
}

/** Displays of `block` that a live X server serves. */
export function liveDisplays(block: DisplayBlock): Set<number> {
  const live = new Set<number>();
  for (const p of findProcesses((p) => inBlock(block, xServerDisplay(p)))) {
    const d = xServerDisplay(p);
    if (d !== undefined) live.add(d);
  }
  return live;
}

/**
 * Removes the files of every display of `block` that no live X server holds: the X lock and
 * socket, and xrdp's sockets for it. Returns the displays that had stale files.
 */
export function removeStaleDisplayFiles(
  block: DisplayBlock,
  roots: DisplayFileRoots = {},
  /** Further socket directories (an instance's own, xrdp 0.10), searched with their uid folders. */
  socketRoots: readonly string[] = [],
): number[] {
  const tmp = roots.tmp ?? "/tmp";
  const run = roots.xrdpRun ?? "/run/xrdp";
  const live = liveDisplays(block);
  // xrdp's per-display sockets: 0.9 keeps them in sockdir, 0.10 in a folder per uid.
  const socketDirs = [join(run, "sockdir")];
  for (const name of listOrEmpty(run)) if (/^\d+$/.test(name)) socketDirs.push(join(run, name));
  for (const dir of [join(run, "sockdir"), ...socketRoots]) {
    if (dir !== join(run, "sockdir")) socketDirs.push(dir);
    for (const name of listOrEmpty(dir)) if (/^\d+$/.test(name)) socketDirs.push(join(dir, name));
  }
  const socketFiles = socketDirs.map((dir) => ({ dir, names: listOrEmpty(dir) }));
  const cleaned: number[] = [];
  for (let d = block.first; d < block.first + block.count; d++) {
    if (live.has(d)) continue;
    const stale = [join(tmp, `.X${d}-lock`), join(tmp, ".X11-unix", `X${d}`)];
    const suffix = new RegExp(`^xrdp[a-z_]*_${d}$`);
    for (const { dir, names } of socketFiles) {
      for (const n of names) if (suffix.test(n)) stale.push(join(dir, n));
    }
    let removed = false;
    for (const path of stale) {
      try {
        rmSync(path);
        removed = true;
      } catch {
        // not there
      }
    }
    if (removed) cleaned.push(d);
  }
  return cleaned;
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
