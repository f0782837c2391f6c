/** Runs the real `lucid-rdp` bin (bin/lucid-rdp.mjs) as a child process, as an operator would. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The bin npm links as node_modules/.bin/lucid-rdp. */
export const lucidRdpBin = fileURLToPath(new URL("../../bin/lucid-rdp.mjs", import.meta.url));

/** What a run printed and how it exited. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `lucid-rdp args...` with only PATH and HOME of this process's env plus `env` (NO_COLOR
 * set), stdin closed; resolves whatever the exit code. Killed after `timeoutMs`.
 */
export function lucidRdp(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [lucidRdpBin, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** `run`'s stdout as JSON; a failure message with both streams when it is not JSON. */
export function jsonOf<T = unknown>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}
