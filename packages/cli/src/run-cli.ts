/** Runs the CLI on an argv and turns every outcome into an exit code. */
import { CommanderError } from "commander";
import type { CliIo } from "./cli-context.js";
import type { ProgramRun } from "./command-kit.js";
import { describeError } from "./describe-error.js";
import { createProgram } from "./program.js";

/**
 * Parses `argv` (without node and script) and runs the command; resolves with the exit code:
 * 0, 2 for bad usage (commander's own errors included), the gRPC code of a failed call, 1 else.
 * `exitCode` is what a command asked for without failing (a --wait that ended FAILED).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const run: ProgramRun = {};
  const program = createProgram(io, run);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return run.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; anything else commander refuses is usage.
      return e.exitCode === 0 ? 0 : 2;
    }
    const { text, exitCode } = describeError(e, run.context?.lastTarget);
    io.stderr(`${text}\n`);
    return exitCode;
  }
}
