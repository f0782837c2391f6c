/**
 * A supervised OS process: one we spawned (we get its exit event), or one we adopted after a
 * restart of the service (not our child: its death is noticed by polling /proc, by pid AND start
 * time, so a recycled pid is never mistaken for it). Either way, each lives in its own process
 * group, and signals go to the whole group so that xrdp's per-connection children go too.
 */
import { spawn } from "node:child_process";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { readProcStat } from "@lucid-rdp/proc";

export interface ProcessExitInfo {
  readonly exitCode?: number;
  readonly signal?: string;
}

export interface ProcessHandle {
  readonly pid: number;
  readonly startTicks: number;
  /** Resolves once the process is gone. */
  readonly exited: Promise<ProcessExitInfo>;
  /** Sends `signal` to the process group; no-op when it is gone. */
  killGroup(signal: NodeJS.Signals): void;
  /** Output lines (stdout and stderr) of a spawned process, latest last, bounded. */
  readonly output: readonly string[];
}

/** The minimal environment xrdp gets: nothing of ours leaks into it. */
export const minimalEnv = Object.freeze({
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  LANG: "C.UTF-8",
});

const maxOutputLines = 200;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone already (ESRCH).
  }
}

export interface SpawnOptions {
  /**
   * Appends stdout and stderr to this file instead of a pipe to the service. A process that must
   * outlive the service needs it: once the service is gone, a write to the pipe would kill the
   * process with SIGPIPE (and, for sesman, every desktop it started). `output` then reads the
   * file's last lines.
   */
  readonly outputFile?: string;
}

/** Spawns `bin` with `args`: no shell, minimal environment, its own process group. */
export function spawnProcess(
  bin: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): Promise<ProcessHandle> {
  const file = opts.outputFile;
  const fd = file === undefined ? undefined : openSync(file, "a", 0o600);
  return new Promise<ProcessHandle>((resolve, reject) => {
    const child = spawn(bin, args, {
      env: minimalEnv,
      detached: true,
      stdio: fd === undefined ? ["ignore", "pipe", "pipe"] : ["ignore", fd, fd],
    });
    const lines: string[] = [];
    const collect = (d: Buffer) => {
      for (const line of d.toString().split("\n")) {
        if (line.trim() === "") continue;
        lines.push(line);
        if (lines.length > maxOutputLines) lines.shift();
      }
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<ProcessExitInfo>((res) =>
      child.once("exit", (code, signal) =>
        res({ exitCode: code ?? undefined, signal: signal ?? undefined }),
      ),
    );
    child.once("error", reject);
    child.once("spawn", () => {
      const pid = child.pid as number;
      // Read the start time at once; if it already died, 0 never matches a live process.
      const startTicks = readProcStat(pid)?.startTicks ?? 0;
      // The service must not wait for xrdp when it exits itself.
      child.unref();
      resolve({
        pid,
        startTicks,
        exited,
        killGroup: (s) => killGroup(pid, s),
        get output() {
          return file === undefined ? lines : tailLines(file, maxOutputLines);
        },
      });
    });
  }).finally(() => {
    if (fd !== undefined) closeSync(fd);
  });
}

/** The last `n` non-empty lines of a file, reading at most its last 16 KiB. */
export function tailLines(file: string, n: number): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = fstatSync(fd).size;
    const length = Math.min(size, 16 * 1024);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf
      .toString("utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-n);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Adopts a process we did not spawn in this life of the service. Returns undefined when the pid is
 * gone or belongs to another process now.
 */
export function adoptProcess(
  pid: number,
  startTicks: number,
  pollMs = 500,
): ProcessHandle | undefined {
  if (!isAlive(pid, startTicks)) return undefined;
  const exited = new Promise<ProcessExitInfo>((resolve) => {
    const timer = setInterval(() => {
      if (!isAlive(pid, startTicks)) {
        clearInterval(timer);
        // Not our child: its exit status is not ours to read.
        resolve({});
      }
    }, pollMs);
    timer.unref();
  });
  return { pid, startTicks, exited, killGroup: (s) => killGroup(pid, s), output: [] };
}

/** The same process (pid AND start time) and not a zombie waiting to be reaped. */
function isAlive(pid: number, startTicks: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.startTicks === startTicks && st.state !== "Z";
}
