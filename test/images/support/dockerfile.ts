/**
 * Reads the repository's Dockerfile into stages and instructions, so that tests can follow a
 * target to its base image and run its ENTRYPOINT and CMD.
 *
 * Hand-written rather than taken from dockerfile-ast: dockerfile-utils (the linter the tests run)
 * parses with it but exposes no syntax tree, and importing a package this repository does not
 * declare would break on the next change of npm's hoisting. The subset needed is small: line
 * continuations, comments, `ARG name=value` before the first FROM, `FROM [--platform=x] image
 * [AS name]`, and JSON (exec form) arguments.
 */
import { readFileSync } from "node:fs";

export interface Instruction {
  /** Upper-cased: FROM, RUN, COPY, ENV, ... */
  readonly keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

export interface Stage {
  /** The `AS` name, lower-cased; undefined for an unnamed stage. */
  readonly name?: string;
  /** The image or stage named by FROM, with global ARGs substituted. */
  readonly from: string;
  /** The instructions after FROM, up to the next FROM. */
  readonly instructions: readonly Instruction[];
}

export interface ParsedDockerfile {
  /** `ARG`s declared before the first FROM, with their defaults. */
  readonly globalArgs: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

/** Splits a Dockerfile into instructions (comments and parser directives dropped). */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === "" || first.startsWith("#")) continue;
    const start = i + 1;
    let joined = lines[i]!.replace(/\s+$/, "");
    while (joined.endsWith("\\") && i + 1 < lines.length) {
      joined = joined.slice(0, -1);
      let next = lines[++i]!;
      // Comment lines inside a continued instruction are skipped, as Docker does.
      while (next.trim().startsWith("#") && i + 1 < lines.length) next = lines[++i]!;
      joined += ` ${next.trim()}`;
      joined = joined.replace(/\s+$/, "");
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(joined);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  }
  return out;
}

/** Substitutes `${NAME}` and `$NAME` from `vars`; unknown names are left as they are. */
export function substitute(s: string, vars: Readonly<Record<string, string>>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, a, b) => {
    const v = vars[(a ?? b) as string];
    return v ?? all;
  });
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: { name?: string; from: string; instructions: Instruction[] }[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === "FROM") {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith("--"));
      const as = words.findIndex((w) => w.toLowerCase() === "as");
      stages.push({
        name: as >= 0 ? words[as + 1]?.toLowerCase() : undefined,
        from: substitute(words[0] ?? "", globalArgs),
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (ins.keyword === "ARG") {
        const eq = ins.args.indexOf("=");
        if (eq > 0)
          globalArgs[ins.args.slice(0, eq)] = ins.args.slice(eq + 1).replace(/^"|"$/g, "");
      }
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

export function readDockerfile(path: string): ParsedDockerfile {
  return parseDockerfile(readFileSync(path, "utf8"));
}

/** A stage and the stages it is built on, nearest first, ending at an image from a registry. */
export function stageChain(
  df: ParsedDockerfile,
  target: string,
): { stages: Stage[]; base: string } {
  const chain: Stage[] = [];
  let name = target.toLowerCase();
  for (;;) {
    const stage = df.stages.find((s) => s.name === name);
    if (stage === undefined) {
      if (chain.length === 0) throw new Error(`no stage named ${target}`);
      return { stages: chain, base: name };
    }
    if (chain.includes(stage)) throw new Error(`stage ${name} is built on itself`);
    chain.push(stage);
    name = stage.from.toLowerCase();
    // An image reference is kept with its original case.
    if (!df.stages.some((s) => s.name === name)) return { stages: chain, base: stage.from };
  }
}

/** The last value of an instruction along a chain (a stage's own wins over its base's). */
export function lastOf(chain: readonly Stage[], keyword: string): Instruction | undefined {
  for (const stage of chain) {
    const own = stage.instructions.filter((i) => i.keyword === keyword);
    if (own.length > 0) return own[own.length - 1];
  }
  return undefined;
}

/** Every instruction with `keyword` along a chain, base first. */
export function allOf(chain: readonly Stage[], keyword: string): Instruction[] {
  return [...chain].reverse().flatMap((s) => s.instructions.filter((i) => i.keyword === keyword));
}

/** The environment a chain sets (`ENV a=b c=d`), base first so the stage's own wins. */
export function envOf(chain: readonly Stage[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of allOf(chain, "ENV")) {
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
      env[m[1]!] = m[2]!.replace(/^"|"$/g, "");
    }
  }
  return env;
}

/** The argv of an exec-form instruction (`["a", "b"]`); throws on the shell form. */
export function execForm(ins: Instruction | undefined, what: string): string[] {
  if (ins === undefined) throw new Error(`no ${what}`);
  const json = ins.keyword === "HEALTHCHECK" ? ins.args.replace(/^.*?\bCMD\s+/s, "") : ins.args;
  let argv: unknown;
  try {
    argv = JSON.parse(json);
  } catch {
    throw new Error(`${what} at line ${ins.line} is not in exec form: ${ins.args}`);
  }
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string")) {
    throw new Error(`${what} at line ${ins.line} is not a JSON array of strings`);
  }
  return argv as string[];
}
