/**
 * @lucid-rdp/cli: `lucid-rdp`, the operators' command line. The bin is bin/lucid-rdp.mjs; this
 * entry point exports what tests and other tools reuse.
 */
export { CliContext, type CliIo, type GlobalOptions } from "./cli-context.js";
export { completionScript, type Shell, shells } from "./completion/completion-script.js";
export { codeName, type DescribedError, describeError } from "./describe-error.js";
export { createProgram } from "./program.js";
export { runCli } from "./run-cli.js";
