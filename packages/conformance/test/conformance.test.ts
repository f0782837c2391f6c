/**
 * The official Connect conformance suite (connectrpc/conformance v1.0.7), server mode: its runner
 * starts our ConformanceService on packages/runtime once per server configuration (protocol, HTTP
 * version, TLS, message limit) and drives it with its reference clients over Connect, gRPC and
 * gRPC-web, JSON and binary, identity/gzip/brotli, HTTP/1.1, h2c and TLS. conformance.yaml says what
 * the runtime supports; known-failing.txt lists expected failures, each with its reason.
 *
 * Needs .tools/bin/connectconformance and .tools/conformance/conformance.binpb (.ci/run builds
 * both); under CI=true a missing one fails the test.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findTool, repoRoot, skipOrFail } from "@lucid-rdp/testing";
import { afterAll, describe, expect, it } from "vitest";
import { bundleConformanceServer } from "./support/bundle-conformance-server.js";
import { runnerSummary } from "./support/runner-summary.js";

const install =
  "GOBIN=$PWD/.tools/bin GOFLAGS=-mod=mod go install connectrpc.com/conformance/cmd/connectconformance@v1.0.7";
const descriptorSet = join(repoRoot, ".tools", "conformance", "conformance.binpb");
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), "conformance-"));

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/**
 * How long the runner may take: about 30 s on 2 cores; a server that leaves a call hanging would
 * otherwise hold the test until vitest's timeout, with the runner and its servers left behind.
 */
const runnerDeadlineMs = 10 * 60_000;

/** The runner's exit code (null when killed at the deadline) and everything it printed. */
interface RunnerResult {
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly output: string;
}

function runRunner(runner: string, args: readonly string[]): Promise<RunnerResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that the servers it started go with it at the deadline.
    const child = spawn(runner, args, {
      cwd: packageDir,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    }, runnerDeadlineMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, output: Buffer.concat(chunks).toString() });
    });
  });
}

/** The last server configurations the runner announced: where a hung run stopped. */
function lastConfigs(output: string): string {
  return output
    .split("\n")
    .filter((l) => l.startsWith("Running "))
    .slice(-4)
    .join("\n");
}

describe("ConformanceService on packages/runtime", () => {
  it("passes the Connect conformance suite in server mode", {
    timeout: 15 * 60_000,
  }, async (ctx) => {
    const runner = findTool("connectconformance", install);
    if (runner === undefined) skipOrFail(ctx, `connectconformance missing: ${install}`);
    if (!existsSync(descriptorSet)) {
      skipOrFail(ctx, `${descriptorSet} missing: run .ci/run (it builds it with buf)`);
    }
    const server = await bundleConformanceServer(workDir);
    const started = Date.now();
    const { code, timedOut, output } = await runRunner(runner, [
      "--mode",
      "server",
      "--conf",
      "conformance.yaml",
      "--known-failing",
      "@known-failing.txt",
      "-v",
      "--",
      process.execPath,
      server,
      descriptorSet,
    ]);
    const verdict = runnerSummary(output);
    process.stderr.write(
      `\nconnectconformance (${Math.round((Date.now() - started) / 1000)} s):\n${verdict}\n`,
    );
    const minutes = runnerDeadlineMs / 60_000;
    expect(
      timedOut,
      `connectconformance did not finish in ${minutes} min; it had reached:\n${lastConfigs(output)}`,
    ).toBe(false);
    expect(code, `connectconformance exited ${code}:\n${verdict}`).toBe(0);
    const counts = /(\d+) passed, (\d+) failed/.exec(output);
    expect(Number(counts?.[1])).toBeGreaterThan(1_000);
    expect(Number(counts?.[2])).toBe(0);
  });
});
