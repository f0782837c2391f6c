/** `lucid-rdp completion bash|zsh|fish`: prints a completion script for the shell. */
import { type Command, InvalidArgumentError } from "commander";
import type { CommandDeps } from "../command-kit.js";
import { completionScript, type Shell, shells } from "../completion/completion-script.js";

/** Adds `completion` to `program`. */
export function registerCompletion(program: Command, deps: CommandDeps): void {
  program
    .command("completion")
    .description("print a shell completion script: source <(lucid-rdp completion bash)")
    .argument("<shell>", `one of: ${shells.join(", ")}`, (t) => {
      if (!(shells as readonly string[]).includes(t)) {
        throw new InvalidArgumentError(`"${t}" is not one of: ${shells.join(", ")}`);
      }
      return t as Shell;
    })
    .action((shell: Shell) => {
      deps.io.stdout(completionScript(program, shell));
    });
}
