/**
 * The command-line tools operators point at the mesh (grpcurl, promtool), found with findTool and
 * run without a shell.
 */
import { spawn } from "node:child_process";
import type { SkipContext } from "./need-or-skip.js";
import { findTool, reportMissingTool } from "./tools.js";

/** How CI installs each tool (.ci/run); shown when one is missing. */
export const installHints = {
  grpcurl: "GOBIN=$PWD/.tools/bin go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4",
  promtool: "apt-get install -y prometheus",
} as const;

export type CliTool = keyof typeof installHints;

/**
 * The path of `tool`; when it is missing, reports it and skips the calling test (under CI=true
 * findTool throws instead, so the test fails).
 */
export function toolOrSkip(ctx: SkipContext, tool: CliTool): string {
  const path = findTool(tool, installHints[tool]);
  if (path === undefined) {
    reportMissingTool(tool, installHints[tool], ctx.task.name);
    ctx.skip();
    throw new Error("unreachable: skipped");
  }
  return path;
}

export interface ToolRun {
  /** The exit code; null when a signal (or the timeout) ended the tool. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `file` with `args` (argv, no shell), writing `input` to its stdin, and resolves with what
 * it printed, whatever its exit code: a failing run is something a test asserts on. Rejects only
 * when the tool cannot be started. Killed after `timeoutMs`.
 */
export function runTool(
  file: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 30_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.once("error", reject);
    child.once("close", (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
    // A tool that exits without reading its input (most grpcurl calls) closes the pipe first:
    // the write's EPIPE is no failure of the run, whose exit and output the test asserts on.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs `grpcurl -plaintext <args...>`; `address` (host:port) goes before the symbol args. */
export function grpcurl(
  bin: string,
  address: string,
  args: { flags?: readonly string[]; json?: unknown; verb: readonly string[] },
): Promise<ToolRun> {
  const data = args.json === undefined ? [] : ["-d", JSON.stringify(args.json)];
  return runTool(bin, ["-plaintext", ...(args.flags ?? []), ...data, address, ...args.verb]);
}

/** Runs `promtool check metrics` on an exposition text. */
export function promtoolCheckMetrics(bin: string, exposition: string): Promise<ToolRun> {
  return runTool(bin, ["check", "metrics"], { input: exposition });
}
