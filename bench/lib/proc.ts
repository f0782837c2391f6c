/**
 * Child processes of the benchmarks: servers, load generators and workers, each optionally pinned
 * to one core with taskset so that a server and the load it answers do not share a core.
 *
 * Every child gets its own process group (xrdp forks per connection; tsx-less node children may
 * spawn helpers), and every group still alive when the bench exits is SIGKILLed, so an aborted or
 * failed run leaves nothing behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { acceptsConnections, findTool, freePort } from "@lucid-rdp/testing";

/** The repository root, with a trailing slash. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The most output kept from a child, for error messages. */
const maxOutputChars = 64 * 1024;

export interface Launched {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) once the process exited. */
  readonly exited: Promise<number | string>;
  /** Everything it wrote to stdout, when stdout was piped. */
  stdout(): string;
  /** The last {@link maxOutputChars} characters it wrote to stderr. */
  stderr(): string;
  /** True while it has not exited. */
  alive(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface LaunchOptions {
  /** The core to pin the process (and everything it forks) to; unpinned when undefined. */
  readonly cpu?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** "pipe" keeps stdout for {@link Launched.stdout}; "ignore" sends it to /dev/null. */
  readonly stdout?: "pipe" | "ignore";
  /** Options for node itself, before the script (launchTs only), e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
}

const live = new Set<Launched>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const l of live) killGroup(l.pid, "SIGKILL");
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

let tasksetPath: string | null | undefined;

/** Whether processes can be pinned: taskset (util-linux) is on PATH and there are two cores. */
export function canPin(): boolean {
  if (tasksetPath === undefined) {
    // Not findTool: that throws under CI=true, while a missing taskset only means "unpinned",
    // which the results record.
    tasksetPath =
      (process.env.PATH ?? "")
        .split(delimiter)
        .map((dir) => join(dir, "taskset"))
        .find((p) => existsSync(p)) ?? null;
  }
  return tasksetPath !== null && availableParallelism() >= 2;
}

/** Starts `command args`, pinned to `opts.cpu` when pinning is possible. */
export function launch(
  command: string,
  args: readonly string[],
  opts: LaunchOptions = {},
): Launched {
  installExitHook();
  const pinned = opts.cpu !== undefined && canPin();
  // taskset execs the command, so the pid is the command's own.
  const [cmd, argv] = pinned
    ? [tasksetPath as string, ["-c", String(opts.cpu), command, ...args]]
    : [command, [...args]];
  const proc = spawn(cmd, argv, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? process.env,
    stdio: ["ignore", opts.stdout ?? "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let err = "";
  proc.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on("data", (c: Buffer) => {
    err = (err + c.toString()).slice(-maxOutputChars);
  });
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    proc.once("error", (e) => {
      err += `\nfailed to spawn ${command}: ${e.message}`;
      done = true;
      resolve("spawn error");
    });
    proc.once("exit", (code, signal) => {
      done = true;
      resolve(code ?? signal ?? "unknown");
    });
  });
  const launched: Launched = {
    proc,
    pid: proc.pid ?? -1,
    exited,
    stdout: () => out,
    stderr: () => err,
    alive: () => !done,
    async stop(graceMs = 5_000) {
      if (!done && proc.pid !== undefined) {
        killGroup(proc.pid, "SIGTERM");
        const timer = setTimeout(() => killGroup(proc.pid as number, "SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Whatever the leader forked and left behind.
      if (proc.pid !== undefined) killGroup(proc.pid, "SIGKILL");
      live.delete(launched);
    },
  };
  live.add(launched);
  return launched;
}

/** Runs a TypeScript file of this repository as `node --import tsx <file>`: one process, one pid. */
export function launchTs(
  file: string,
  args: readonly string[],
  opts: LaunchOptions = {},
): Launched {
  return launch(
    process.execPath,
    [...(opts.nodeArgs ?? []), "--import", "tsx", file, ...args],
    opts,
  );
}

/** Runs a command to its end; rejects with its stderr when it exits non-zero. */
export async function run(
  command: string,
  args: readonly string[],
  opts: LaunchOptions & { timeoutMs?: number } = {},
): Promise<string> {
  const l = launch(command, args, opts);
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => killGroup(l.pid, "SIGKILL"), opts.timeoutMs);
  const code = await l.exited;
  clearTimeout(timer);
  live.delete(l);
  if (code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited with ${code}\n${l.stderr().slice(-4000)}${l.stdout().slice(-2000)}`,
    );
  }
  return l.stdout();
}

/** A TCP port that was free on 127.0.0.1 a moment ago (@lucid-rdp/testing's). */
export { freePort };

/** True when 127.0.0.1:port accepts a TCP connection (@lucid-rdp/testing's acceptsConnections). */
export const accepts = acceptsConnections;

/** Waits until the port accepts connections; fails early when `child` exits. */
export async function waitForPort(
  port: number,
  child: Launched | undefined,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await accepts(port)) return;
    if (child !== undefined && !child.alive()) {
      throw new Error(`process ${child.pid} exited before listening on ${port}\n${child.stderr()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** Finds a tool the bench needs; throws (in every mode) with the install hint when missing. */
export function requireTool(name: string, installHint: string): string {
  const path = findTool(name, installHint);
  if (path === undefined) {
    throw new Error(`${name} not found on $PATH, in .tools/bin or in ~/go/bin: ${installHint}`);
  }
  return path;
}
