/**
 * The completion scripts of the real bin, in real shells: each parses (`bash -n`, `zsh -n`,
 * `fish -n`) and completes subcommands and flags by the command path typed so far. bash and zsh
 * call the function as their completion systems do (zsh through bashcompinit: 1-based
 * COMP_WORDS, COMP_CWORD = CURRENT - 1); fish runs its own `complete -C`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTool, type SkipContext, skipOrFail } from "@lucid-rdp/testing";
import { afterAll, describe, expect, it } from "vitest";
import { lucidRdp } from "./support/run-lucid-rdp.js";

const dir = mkdtempSync(join(tmpdir(), "lucid-rdp-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The path of `shell`; missing: skipped, or failed under CI=true. */
function shellOrSkip(ctx: SkipContext, shell: string): string {
  const path = findTool(shell, `apt-get install -y ${shell}`);
  if (path === undefined)
    skipOrFail(ctx, `${shell} is not installed (apt-get install -y ${shell})`);
  return path;
}

/** Writes `lucid-rdp completion <shell>` to a file after checking its syntax with `<shell> -n`. */
async function scriptFor(shellPath: string, shell: string): Promise<string> {
  const run = await lucidRdp(["completion", shell]);
  expect(run.code, run.stderr).toBe(0);
  const file = join(dir, `lucid-rdp.${shell}`);
  writeFileSync(file, run.stdout);
  const syntax = spawnSync(shellPath, ["-n", file], { encoding: "utf8" });
  expect(syntax.status, syntax.stderr).toBe(0);
  return file;
}

function runShell(shellPath: string, program: string): string[] {
  const r = spawnSync(shellPath, ["-c", program], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${shellPath} failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l !== "");
}

const quoted = (words: readonly string[]) => words.map((w) => `'${w}'`).join(" ");

/** The typed words (the last being completed) and what each shell must offer. */
const cases: readonly (readonly [string[], string[]])[] = [
  [
    ["lucid-rdp", "se"],
    ["sessions", "servers"],
  ],
  [["lucid-rdp", "sessions", "c"], ["create"]],
  [["lucid-rdp", "nodes", "d"], ["drain"]],
  [
    ["lucid-rdp", "sessions", "create", "--w"],
    ["--wait", "--wait-timeout"],
  ],
  // A flag's value is not taken for a command: `--user ls` stays under create.
  [["lucid-rdp", "sessions", "create", "--user", "ls", "--rd"], ["--rdp"]],
  // After a flag that takes a value, nothing is offered.
  [["lucid-rdp", "sessions", "create", "--user", ""], []],
];

describe("lucid-rdp completion", () => {
  it("bash: parses and completes by command path", async (ctx) => {
    const bash = shellOrSkip(ctx, "bash");
    const script = await scriptFor(bash, "bash");
    for (const [words, want] of cases) {
      const got = runShell(
        bash,
        [
          `source ${script}`,
          `COMP_WORDS=(${quoted(words)}); COMP_CWORD=${words.length - 1}`,
          `_lucid_rdp lucid-rdp "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"`,
          `printf '%s\\n' "\${COMPREPLY[@]}"`,
        ].join("\n"),
      );
      expect(got, words.join(" ")).toEqual(want);
    }
  });

  it("zsh: parses and completes through bashcompinit", async (ctx) => {
    const zsh = shellOrSkip(ctx, "zsh");
    const script = await scriptFor(zsh, "zsh");
    for (const [words, want] of cases) {
      const got = runShell(
        zsh,
        [
          "autoload -U compinit && compinit -u -D",
          `source ${script}`,
          // What bashcompinit's _bash_complete sets before it calls the function.
          `words=(${quoted(words)}); CURRENT=${words.length}`,
          `COMP_WORDS=( "\${words[@]}" ); COMP_CWORD=$(( CURRENT - 1 ))`,
          `_lucid_rdp lucid-rdp "\${words[CURRENT]}" "\${words[CURRENT-1]}"`,
          // zsh's compgen leaves matching the current word to compadd, which keeps prefixes.
          `print -l -- "\${(M)COMPREPLY[@]:#\${words[CURRENT]}*}"`,
        ].join("\n"),
      );
      expect(got, words.join(" ")).toEqual(want);
    }
  });

  it("fish: parses and completes with complete -C", async (ctx) => {
    const fish = shellOrSkip(ctx, "fish");
    const script = await scriptFor(fish, "fish");
    for (const [words, want] of cases) {
      const line = words.join(" ");
      const got = runShell(fish, `source ${script}; complete -C '${line}'`).map(
        (l) => l.split("\t")[0],
      );
      expect(got.sort(), line).toEqual([...want].sort());
    }
  });
});
