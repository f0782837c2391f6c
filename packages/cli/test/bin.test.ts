/**
 * The bin as npm links it: `npx lucid-rdp` from the repository root runs the TypeScript CLI with
 * no build step (bin/lucid-rdp.mjs registers tsx), prints help, and exits by code.
 */
import { spawnSync } from "node:child_process";
import { repoRoot } from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";

const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" };

describe("the lucid-rdp bin", () => {
  it("runs through npx from the repository root", () => {
    const r = spawnSync("npx", ["--no", "--", "lucid-rdp", "--help"], {
      cwd: repoRoot,
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Usage: lucid-rdp [options] [command]");
    expect(r.stdout).toMatch(/sessions +users' remote desktop sessions/);
  }, 90_000);

  it("is linked in node_modules/.bin and exits 2 on a bad command", () => {
    const r = spawnSync(`${repoRoot}node_modules/.bin/lucid-rdp`, ["sesions"], {
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("error: unknown command 'sesions'");
  }, 90_000);
});
