/**
 * The completion script of the real bin, in a real bash: it parses (`bash -n`) and completes
 * subcommands and flags by the command path typed so far.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lucidRdp } from "./support/run-lucid-rdp.js";

const dir = mkdtempSync(join(tmpdir(), "lucid-rdp-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What bash completes for the words typed (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const program = [
    `source ${script}`,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    "_lucid_rdp",
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join("\n");
  const r = spawnSync("bash", ["-c", program], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bash failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l !== "");
}

describe("lucid-rdp completion bash", () => {
  it("prints a script bash parses and that completes by command path", async () => {
    const run = await lucidRdp(["completion", "bash"]);
    expect(run.code, run.stderr).toBe(0);
    const script = join(dir, "lucid-rdp.bash");
    writeFileSync(script, run.stdout);
    const syntax = spawnSync("bash", ["-n", script], { encoding: "utf8" });
    expect(syntax.status, syntax.stderr).toBe(0);

    expect(complete(script, ["lucid-rdp", "se"])).toEqual(["sessions", "servers"]);
    expect(complete(script, ["lucid-rdp", "sessions", "c"])).toEqual(["create"]);
    expect(complete(script, ["lucid-rdp", "nodes", ""])).toEqual(
      expect.arrayContaining(["ls", "drain", "undrain"]),
    );
    expect(complete(script, ["lucid-rdp", "sessions", "create", "--w"])).toEqual([
      "--wait",
      "--wait-timeout",
    ]);
    // A flag's value is not taken for a command: `--user sessions` stays under create.
    expect(complete(script, ["lucid-rdp", "sessions", "create", "--user", "ls", "--rd"])).toEqual([
      "--rdp",
    ]);
    // After a flag that takes a value, nothing is offered.
    expect(complete(script, ["lucid-rdp", "sessions", "create", "--user", ""])).toEqual([]);
  });
});
