import { describe, expect, it } from "vitest";
import type { CliIo } from "./cli-context.js";
import { runCli } from "./run-cli.js";

/** Runs the CLI in-process with no service behind it: these cases end before any call. */
async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    env,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    interactive: false,
    confirm: async () => false,
    now: () => new Date(),
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

describe("runCli()", () => {
  it("prints help and the version with exit 0", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: lucid-rdp");
    expect(help.stdout).toContain("LUCID_SESSION_CONTROLLER_URL");
    expect((await run(["--version"])).stdout).toBe("0.1.0\n");
  });

  it("exits 2 with a clear line for a bad flag value", async () => {
    const r = await run(["sessions", "ls", "--state", "bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"bogus" is not one of: pending, provisioning');
    expect((await run(["sessions", "ls", "--page-size", "0"])).code).toBe(2);
    expect((await run(["alerts", "silence", "x", "--for", "soon"])).stderr).toContain(
      '"soon" is not a duration',
    );
    expect((await run(["rules", "create", "--comparison", "~"])).code).toBe(2);
  });

  it("exits 2 for an unknown command, flag or missing argument", async () => {
    expect((await run(["sessions", "frobnicate"])).code).toBe(2);
    expect((await run(["nodes", "ls", "--bogus"])).code).toBe(2);
    expect((await run(["nodes", "drain"])).code).toBe(2);
    expect((await run(["completion", "tcsh"])).code).toBe(2);
  });

  it("exits 2 naming the variable for a bad endpoint", async () => {
    const r = await run(["sessions", "ls"], { LUCID_SESSION_CONTROLLER_URL: "ftp://x" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('LUCID_SESSION_CONTROLLER_URL: "ftp://x" must be an http');
  });

  it("refuses to terminate without --yes when it cannot ask", async () => {
    const r = await run(["sessions", "terminate", "3f8a0c1e-0000-4000-8000-000000000001"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("add --yes");
  });

  it("exits 2 for rules create without its required flags and edit without fields", async () => {
    const create = await run(["rules", "create", "--name", "cpu"]);
    expect(create.code).toBe(2);
    expect(create.stderr).toContain("--metric, --comparison, --threshold, --severity");
    const edit = await run(["rules", "edit", "3f8a0c1e-0000-4000-8000-000000000001"]);
    expect(edit.code).toBe(2);
    expect(edit.stderr).toContain("at least one field");
  });

  it("prints a completion script", async () => {
    const r = await run(["completion", "bash"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("complete -F _lucid_rdp lucid-rdp");
  });
});
