/** The glue between commander's actions and a {@link CliContext}. */
import type { Command } from "commander";
import { CliContext, type CliIo, type GlobalOptions } from "./cli-context.js";

/** Shared by every action of one run: the context of the command that ran, for error hints. */
export interface ProgramRun {
  context?: CliContext;
  /** An exit code a command asks for without failing (a --wait that ended FAILED). */
  exitCode?: number;
}

/** What commands are registered with. */
export interface CommandDeps {
  readonly io: CliIo;
  readonly run: ProgramRun;
}

/**
 * A commander action that builds the context from the global and the command's own flags and
 * calls `fn` with it, the positional arguments and the command's options.
 */
export function action<O>(
  deps: CommandDeps,
  fn: (ctx: CliContext, args: string[], opts: O) => Promise<void> | void,
): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const cmd = args.at(-1) as Command;
    const opts = args.at(-2) as O;
    const positional = args.slice(0, -2) as string[];
    const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>(), deps.io);
    deps.run.context = ctx;
    await fn(ctx, positional, opts);
  };
}

/** Commander's collector for a repeatable flag whose values are parsed by `parse`. */
export function repeatable<T>(parse: (text: string) => T): (text: string, previous?: T[]) => T[] {
  return (text, previous = []) => [...previous, parse(text)];
}

/** Reads every page of a List call: `page(token)` until its next_page_token is empty. */
export async function allPages<T>(
  page: (token: string) => Promise<{ items: T[]; next: string }>,
): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  do {
    const { items, next } = await page(token);
    all.push(...items);
    token = next;
  } while (token !== "");
  return all;
}
