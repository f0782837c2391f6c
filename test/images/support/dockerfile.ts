/**
 * The repository's Dockerfile as the image tests need it, parsed by dockerfile-ast: stages with
 * their base image (global ARGs expanded), a target's chain of stages down to its registry image,
 * and the argv of its exec-form ENTRYPOINT, CMD and HEALTHCHECK.
 */
import { readFileSync } from "node:fs";
import {
  type Instruction as AstInstruction,
  DockerfileParser,
  type Env,
  From,
  Healthcheck,
  JSONInstruction,
  ModifiableInstruction,
} from "dockerfile-ast";

export interface Instruction {
  /** Upper-cased: FROM, RUN, COPY, ENV, ... */
  readonly keyword: string;
  /** Everything after the keyword: flags first, then the arguments with continuations removed. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
  /** dockerfile-ast's node, for what the fields above leave out (ENV properties, JSON strings). */
  readonly node: AstInstruction;
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

export function parseDockerfile(text: string): ParsedDockerfile {
  const ast = DockerfileParser.parse(text);
  const globalArgs: Record<string, string> = {};
  for (const arg of ast.getInitialARGs()) {
    const value = arg.getProperty()?.getValue();
    if (value != null) globalArgs[arg.getProperty()!.getName()] = value;
  }
  const stages: { name?: string; from: string; instructions: Instruction[] }[] = [];
  for (const node of ast.getInstructions()) {
    if (node instanceof From) {
      stages.push({
        name: node.getBuildStage()?.toLowerCase(),
        from: node.getExpandedArguments()[0]?.getValue() ?? "",
        instructions: [],
      });
    } else if (stages.length > 0) {
      const flags = node instanceof ModifiableInstruction ? node.getFlags().map(String) : [];
      stages.at(-1)!.instructions.push({
        keyword: node.getKeyword(),
        args: [...flags, node.getArgumentsContent() ?? ""].join(" ").trim(),
        line: node.getRange().start.line + 1,
        node,
      });
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
  for (const { node } of allOf(chain, "ENV")) {
    for (const p of (node as Env).getProperties()) env[p.getName()] = p.getValue() ?? "";
  }
  return env;
}

/** The argv of an exec-form instruction (`["a", "b"]`); throws on the shell form. */
export function execForm(ins: Instruction | undefined, what: string): string[] {
  if (ins === undefined) throw new Error(`no ${what}`);
  // HEALTHCHECK CMD takes the same two forms as CMD, so its command is parsed as one.
  const node =
    ins.node instanceof Healthcheck
      ? DockerfileParser.parse(ins.node.getArgumentsContent() ?? "").getCMDs()[0]
      : ins.node;
  // Without both brackets, or with anything after the closing one, Docker runs it through a shell.
  if (
    !(node instanceof JSONInstruction) ||
    node.getOpeningBracket() === null ||
    node.getClosingBracket() === null ||
    !node.getArgumentsContent()?.trimEnd().endsWith("]")
  ) {
    throw new Error(`${what} at line ${ins.line} is not in exec form: ${ins.args}`);
  }
  return node.getJSONStrings().map((s) => s.getJSONValue());
}
