/**
 * xrdp 0.10 for tests: the Debian trixie root that .ci/build-trixie-root.sh builds at
 * `.tools/trixie` (xrdp 0.10.1, xorgxrdp, nodejs, openbox, the test accounts), the mounts of
 * .ci/trixie-chroot-mounts.sh, its accounts (read from the root's own /etc/passwd), and
 * xrdp-integration's bundle run inside it with `chroot` as its image would run it.
 *
 * Under CI=true a missing root, a missing `chroot` or not running as root throws (the test fails);
 * otherwise {@link trixieRootMissing} says why the tests are skipped.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { findProcesses } from "@lucid-rdp/proc";
import type { Account } from "./rdp-client.js";
import { findTool, repoRoot } from "./tools.js";

/** Where .ci/build-trixie-root.sh builds the root. */
export const trixieRoot = join(repoRoot, ".tools", "trixie");
const marker = join(trixieRoot, ".lucid-root-complete");
const mountsScript = join(repoRoot, ".ci", "trixie-chroot-mounts.sh");
let chroot: { path: string | undefined } | undefined;

/** `chroot`, looked up on first use rather than on import. */
function chrootBin(): string | undefined {
  chroot ??= { path: findTool("chroot", "apt-get install -y coreutils") };
  return chroot.path;
}

/**
 * Why the trixie root cannot be used here, or undefined when it can. Throws instead under
 * CI=true, where every prerequisite must be present.
 */
export function trixieRootMissing(): string | undefined {
  let why: string | undefined;
  if (process.getuid?.() !== 0) why = "needs root (chroot, mount)";
  else if (chrootBin() === undefined) why = "chroot missing (apt-get install -y coreutils)";
  else if (!existsSync(marker)) {
    why = `no trixie root at ${trixieRoot}: run bash .ci/build-trixie-root.sh (as root)`;
  }
  if (why !== undefined && process.env.CI === "true") throw new Error(`xrdp 0.10 tests: ${why}`);
  return why;
}

/** Mounts (or unmounts) what xrdp needs inside the root (.ci/trixie-chroot-mounts.sh). */
export function trixieMounts(action: "mount" | "umount"): void {
  execFileSync("bash", [mountsScript, action], { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * An account of the root, from ROOT/etc/passwd: `uid` is its uid INSIDE the root, `home` the
 * host's path of its home (ROOT/home/<name>). Undefined when missing (a thrown error under
 * CI=true).
 */
export function rootAccount(name: string): Account | undefined {
  let passwd = "";
  try {
    passwd = readFileSync(join(trixieRoot, "etc", "passwd"), "utf8");
  } catch {
    // no root
  }
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined && f[5] !== undefined) {
      return { name, uid: Number(f[2]), home: join(trixieRoot, f[5]) };
    }
  }
  if (process.env.CI === "true") {
    throw new Error(`account ${name} missing in ${trixieRoot}: run bash .ci/build-trixie-root.sh`);
  }
  return undefined;
}

/** The host's path of a path inside the root. */
export function inRoot(path: string): string {
  return join(trixieRoot, path);
}

/** True when the process's root directory is the trixie root (it runs chrooted there). */
export function runsInRoot(pid: number): boolean {
  try {
    return realpathSync(`/proc/${pid}/root`) === realpathSync(trixieRoot);
  } catch {
    return false;
  }
}

/** A service process running chrooted in the root. */
export interface ChrootService {
  readonly child: ChildProcess;
  /** Its API, from its "listening" log line. */
  readonly url: string;
  /** SIGKILL goes to its process group (what it spawned there, never its xrdp groups). */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** The last lines it wrote to stdout and stderr, for failure messages. */
  output(): string;
}

/**
 * Runs `node <bundle>` (`bundle` a path inside the root) chrooted in the root with exactly `env`
 * (plus PATH), as `chroot ROOT /usr/bin/env -i ... /usr/bin/node <bundle>`: chroot and env exec,
 * so the child's pid is node's. Resolves once it logs "listening".
 */
export function spawnChrootService(
  bundle: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ChrootService> {
  const bin = chrootBin();
  if (bin === undefined) throw new Error("chroot missing");
  // Records in memory unless the test names a DATA_DIR (the bundle ships no SQLite binding).
  const vars = Object.entries({
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    ...(env.DATA_DIR === undefined ? { EMBEDDED_STATE: "memory" } : {}),
    ...env,
  }).map(([k, v]) => `${k}=${v}`);
  const child = spawn(bin, [trixieRoot, "/usr/bin/env", "-i", ...vars, "/usr/bin/node", bundle], {
    env: {},
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const lines: string[] = [];
  const keep = (l: string) => {
    lines.push(l);
    if (lines.length > 400) lines.shift();
  };
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (signal === "SIGKILL") process.kill(-(child.pid as number), signal);
      else child.kill(signal);
    } catch {
      // gone
    }
  };
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  createInterface({ input: child.stderr! }).on("line", (l) => keep(`stderr: ${l}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kill("SIGKILL");
      reject(new Error(`the chrooted service did not listen in ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    const output = () => lines.join("\n");
    createInterface({ input: child.stdout! }).on("line", (line) => {
      keep(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === "listening" && rec.url !== undefined) {
          clearTimeout(timer);
          resolve({ child, url: rec.url, kill, exited, output });
        }
      } catch {
        // not a log line
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the chrooted service exited ${code}:\n${output()}`));
    }, reject);
  });
}

/**
 * SIGKILL to the process group of every process whose command line names `stateDir` (a path
 * inside the root, unique to a test): the xrdp and sesman groups a failed run left behind.
 * Returns the pids found.
 */
export function killStateDirProcesses(stateDir: string): number[] {
  const found = findProcesses((p) => p.cmdline.some((a) => a.includes(stateDir)));
  for (const p of found) {
    for (const target of [-p.stat.pgrp, p.pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  return found.map((p) => p.pid);
}
