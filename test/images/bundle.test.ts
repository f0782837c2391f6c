/**
 * scripts/bundle.ts: the CLI and bundleService(), and what each bundle still imports at run time
 * (Node's built-ins, and mongodb's optional helpers that it loads inside try/catch). The chroot
 * runs (distroless.test.ts) prove the same by running the bundles with nothing else present.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleService, serviceNames } from "../../scripts/bundle.js";

const out = mkdtempSync(join(tmpdir(), "bundle-cli-"));
const optional = new Set([
  "kerberos",
  "snappy",
  "@mongodb-js/zstd",
  "mongodb-client-encryption",
  "@aws-sdk/credential-providers",
  "gcp-metadata",
  "socks",
  // debug (ioredis's logger) asks for it inside try/catch to colour its output.
  "supports-color",
]);
const builtin = (name: string) =>
  name.startsWith("node:") || builtinModules.includes(name.split("/")[0]!);

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(join(repoRoot, "node_modules/.bin/tsx"), ["scripts/bundle.ts", ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("scripts/bundle.ts", () => {
  let cli: { code: number | null; stdout: string; stderr: string } | undefined;
  beforeAll(async () => {
    cli = await runCli(["--out", out, ...serviceNames]);
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes <out>/<service>/main.mjs for each service named, and the health check", () => {
    expect(cli?.code, cli?.stderr).toBe(0);
    const expected = [
      ...serviceNames.map((s) => join(out, s, "main.mjs")),
      join(out, "healthcheck.mjs"),
    ];
    expect(cli?.stdout.trim().split("\n")).toEqual(expected);
    for (const f of expected) expect(existsSync(f), f).toBe(true);
  });

  it("leaves only Node's built-ins and mongodb's optional helpers to be found at run time", () => {
    for (const s of serviceNames) {
      const code = readFileSync(join(out, s, "main.mjs"), "utf8");
      const imports = [...code.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]!);
      const requires = [...code.matchAll(/__require\("([^"]+)"\)/g)].map((m) => m[1]!);
      expect(imports.length, s).toBeGreaterThan(0);
      expect(
        imports.filter((i) => !builtin(i)),
        `${s}: static imports`,
      ).toEqual([]);
      expect(
        [...new Set(requires.filter((r) => !builtin(r) && !optional.has(r)))],
        `${s}: requires`,
      ).toEqual([]);
      // No dynamic import() of a package: the only ones are relative or built-in.
      const dynamic = [...code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!);
      expect(
        dynamic.filter((d) => !builtin(d) && !d.startsWith(".")),
        `${s}: import()`,
      ).toEqual([]);
    }
    const check = readFileSync(join(out, "healthcheck.mjs"), "utf8");
    const checkImports = [...check.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    expect(checkImports.every(builtin)).toBe(true);
  });

  it("rejects a service it does not know, through bundleService() and the CLI", async () => {
    await expect(bundleService("no-such-service", out)).rejects.toThrow(
      /unknown service "no-such-service": expected one of server-manager, /,
    );
    const r = await runCli(["--out", out, "no-such-service"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown service "no-such-service"/);
  });
});
