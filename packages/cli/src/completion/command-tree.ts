/** The command tree of a commander program, flattened for the completion generators. */
import type { Command } from "commander";

/** One command of the tree: its path (`/sessions/ls`, `` for the program) and what follows it. */
export interface TreeNode {
  readonly path: string;
  readonly subcommands: readonly { name: string; description: string }[];
  readonly flags: readonly { flag: string; description: string; takesValue: boolean }[];
}

/**
 * Every command of `program`, depth first, each with its subcommands and its flags (the global
 * flags of the program included, since they are accepted everywhere).
 */
export function commandTree(program: Command): TreeNode[] {
  const globals = flagsOf(program);
  const nodes: TreeNode[] = [];
  const walk = (cmd: Command, path: string) => {
    nodes.push({
      path,
      subcommands: cmd.commands.map((c) => ({ name: c.name(), description: c.description() })),
      flags: path === "" ? globals : [...flagsOf(cmd), ...globals],
    });
    for (const c of cmd.commands) walk(c, `${path}/${c.name()}`);
  };
  walk(program, "");
  return nodes;
}

function flagsOf(cmd: Command) {
  const flags = cmd.options.flatMap((o) =>
    [o.long, o.short]
      .filter((f): f is string => f !== undefined)
      .map((flag) => ({ flag, description: o.description, takesValue: o.required || o.optional })),
  );
  return [...flags, { flag: "--help", description: "show help", takesValue: false }];
}
