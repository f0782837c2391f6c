/**
 * The operators' cookbook (docs/operators.md, "Cookbook: common operator tasks with grpcurl"), its
 * curl section, and the README's command-line example, run as written: each fenced `sh` block in
 * bash with `set -eo pipefail`, in order, against the mesh `npm start`'s launcher brings up, with
 * real grpcurl, curl and jq. The only change made to a block is the services' addresses (the test
 * runs on free ports). The shell variables a block sets (SESSION, SERVER...) and the function `g`
 * are carried to the next block, as a terminal would. Each block must exit 0 and print what its
 * recipe says.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  findTool,
  freePort,
  killProcessTree,
  repoRoot,
  skipOrFail,
  waitFor,
} from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";

const tsx = join(repoRoot, "node_modules/.bin/tsx");
const launcher = join(repoRoot, "scripts/start-mesh.ts");
// Each throws under CI=true when missing.
const grpcurl = findTool(
  "grpcurl",
  "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4",
);
const jq = findTool("jq", "apt-get install -y jq");
const curl = findTool("curl", "apt-get install -y curl");
const xrdp = findTool("xrdp", "apt-get install -y xrdp");

/** The fenced `sh` blocks of `markdown` between the heading `from` and the next `## ` heading. */
function shellBlocks(markdown: string, from: string): string[] {
  const start = markdown.indexOf(from);
  if (start < 0) throw new Error(`heading not found: ${from}`);
  const next = markdown.indexOf("\n## ", start + from.length);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

/** A block's result. */
interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The launcher, run as a user runs `npm start` (its own process group). */
function launch(env: Record<string, string>): { child: ChildProcess; out: () => string } {
  let out = "";
  const child = spawn(tsx, [launcher], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const add = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on("data", add);
  child.stderr?.on("data", add);
  return { child, out: () => out };
}

const operators = readFileSync(join(repoRoot, "docs/operators.md"), "utf8");
const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const cookbook = shellBlocks(operators, "## Cookbook: common operator tasks with grpcurl");
const curlSection = shellBlocks(operators, "## curl (Connect protocol)");
const readmeExamples = shellBlocks(readme, "## The mesh").filter((b) =>
  /\bg?rpcurl |curl /.test(b),
);

/** The shell variables the blocks assign (carried from block to block). */
const carried = [
  ...new Set(
    [...cookbook, ...curlSection, ...readmeExamples].flatMap((b) => [
      ...[...b.matchAll(/(?:^|[\s;(])([A-Z][A-Z0-9_]*)=/g)].map((m) => m[1] ?? ""),
      ...[...b.matchAll(/\bfor ([A-Z][A-Z0-9_]*) in\b/g)].map((m) => m[1] ?? ""),
    ]),
  ),
];

describe("the operators' cookbook", () => {
  it("has the blocks this test knows", () => {
    expect(cookbook.length).toBeGreaterThanOrEqual(10);
    expect(curlSection).toHaveLength(1);
    expect(readmeExamples).toHaveLength(1);
    expect(carried).toEqual(expect.arrayContaining(["SC", "SM", "RM", "XI", "SESSION", "SERVER"]));
  });

  it("runs as written against npm start, each block exiting 0 and printing what it says", async (ctx) => {
    if (grpcurl === undefined || jq === undefined || curl === undefined || xrdp === undefined) {
      skipOrFail(ctx, "grpcurl, jq, curl or xrdp is missing");
    }
    const ports = {
      sm: await freePort(),
      sc: await freePort(),
      xi: await freePort(),
      rm: await freePort(),
    };
    const stateDir = mkdtempSync(join(tmpdir(), "cookbook-xrdp-"));
    const work = mkdtempSync(join(tmpdir(), "cookbook-"));
    const mesh = launch({
      SERVER_MANAGER_PORT: String(ports.sm),
      SESSION_CONTROLLER_PORT: String(ports.sc),
      XRDP_INTEGRATION_PORT: String(ports.xi),
      RESOURCE_MONITOR_PORT: String(ports.rm),
      XRDP_STATE_DIR: stateDir,
      // A fresh embedded state, not the checkout's own npm start's.
      DATA_DIR: join(stateDir, "data"),
      XRDP_DISPLAY_RANGE: "900-999",
      NODE_PORT_RANGE: "24600-24699",
      WARM_POOL_SIZE: "1",
    });
    /** The block with the addresses of this mesh instead of npm start's defaults. */
    const here = (block: string) =>
      block
        .replaceAll("127.0.0.1:8081", `127.0.0.1:${ports.sm}`)
        .replaceAll("127.0.0.1:8082", `127.0.0.1:${ports.sc}`)
        .replaceAll("127.0.0.1:3389", `127.0.0.1:${ports.xi}`)
        .replaceAll("127.0.0.1:8090", `127.0.0.1:${ports.rm}`);
    const state = join(work, ".state.sh");
    const path = [dirname(grpcurl as string), process.env.PATH ?? "/usr/bin:/bin"].join(":");
    /** Runs one block in bash after the ones before it, as a terminal would. */
    const run = (block: string): Ran => {
      const script = [
        "set -eo pipefail",
        `[ -f "${state}" ] && source "${state}"`,
        here(block),
        `{ declare -p ${carried.join(" ")} 2>/dev/null || true; declare -f; } > "${state}"`,
      ].join("\n");
      const r = spawnSync("bash", ["-c", script], {
        cwd: work,
        env: { PATH: path, HOME: process.env.HOME ?? "/tmp", TOKEN: "" },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 120_000,
      });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    /** Runs a block and checks it exited 0. */
    const ok = (block: string): Ran => {
      const r = run(block);
      expect(r.code, `${here(block)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
      return r;
    };
    /** A unary call of the mesh's Connect JSON API, for the test's own setup. */
    const call = async (port: number, path: string, body: unknown): Promise<unknown> => {
      const res = await fetch(`http://127.0.0.1:${port}/lucid.rdp.v1.${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      expect(res.status, `${path}: ${text}`).toBe(200);
      return JSON.parse(text);
    };
    try {
      await waitFor("the mesh ready line", () => mesh.out(), {
        until: (o) => o.includes("mesh ready:"),
        timeoutMs: 90_000,
        detail: () => mesh.out().slice(-4_000),
      });
      const [vars, health, create, find, watch, usage, end, stray, drain, rule, silence] =
        cookbook as [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
        ];

      ok(vars);
      const up = ok(health).stdout;
      expect(up.match(/"status": "SERVING"/g)).toHaveLength(4);
      expect(up).toContain('"id": "local"');
      expect(up).toContain('"hostInfo"');

      const created = ok(create).stdout;
      const [, session] = created.match(/^([0-9a-f-]{36}) SESSION_STATE_READY on local$/m) ?? [];
      expect(session, created).toBeDefined();
      expect(created).toContain("full address:s:");
      expect(created).toContain("loadbalanceinfo:s:");

      const found = ok(find).stdout;
      expect(found.match(new RegExp(`"id": "${session}"`, "g"))).toHaveLength(2);

      const watched = ok(watch);
      expect(watched.stdout).toContain("SESSION_EVENT_TYPE_CREATED");
      expect(watched.stdout).toContain("SERVER_EVENT_TYPE_");
      expect(watched.stdout).toContain('"host"');
      expect(watched.stderr).toContain("DeadlineExceeded");

      const used = ok(usage).stdout;
      expect(used).toContain(`"sessionId": "${session}"`);
      expect(used).toContain('"auditEvents"');

      const ended = ok(end).stdout;
      expect(ended).toContain("keepaliveExpireTime");
      expect(ended).toContain("SESSION_STATE_TERMINAT");

      // A server no session owns, made directly, as a script would.
      const made = (await call(ports.sm, "ServerManagerService/CreateServer", {
        requestId: crypto.randomUUID(),
        owner: "script",
        waitTimeout: "60s",
      })) as { server: { id: string; state: string } };
      expect(made.server.state).toBe("SERVER_STATE_READY");
      const deleted = ok(stray).stdout;
      expect(deleted).toContain(`"id": "${made.server.id}"`);
      expect(readFileSync(join(work, "stray-servers.txt"), "utf8").trim()).toBe(made.server.id);
      const left = (await call(ports.sm, "ServerManagerService/GetServer", {
        serverId: made.server.id,
      })) as { server: { state: string } };
      expect(left.server.state).not.toBe("SERVER_STATE_READY");

      const drained = ok(drain).stdout;
      expect(drained).toContain('"draining": true');
      expect(drained).toContain('"portPool"');

      expect(ok(rule).stdout).toContain('"displayName": "memory high"');

      // An alert that fires at once, so that the recipe has one to silence.
      await call(ports.rm, "ResourceMonitorService/CreateAlertRule", {
        requestId: crypto.randomUUID(),
        alertRule: {
          displayName: "always",
          metric: "ALERT_METRIC_HOST_MEMORY_USED_PERCENT",
          comparison: "COMPARISON_GREATER_THAN",
          threshold: 0,
          forDuration: "0s",
          severity: "SEVERITY_INFO",
          summary: "the test's alert",
        },
      });
      const firing = await waitFor(
        "a firing alert",
        async () =>
          (
            (await call(ports.rm, "ResourceMonitorService/ListAlerts", {
              states: ["ALERT_STATE_FIRING"],
            })) as { alerts?: { id: string }[] }
          ).alerts?.[0],
        { timeoutMs: 60_000 },
      );
      const silenced = ok(silence).stdout;
      expect(silenced).toContain(`${firing.id} SEVERITY_INFO the test's alert`);
      expect(silenced).toContain('"silenceComment": "known, ticket 1234"');

      // The README's example and the curl section, with the session ids they make.
      const fromReadme = ok(readmeExamples[0] as string).stdout;
      expect(fromReadme).toContain("full address:s:");
      const viaCurl = ok(curlSection[0] as string).stdout;
      const [, curlSession] = viaCurl.match(/"session":\{"id":"([0-9a-f-]{36})"/) ?? [];
      expect(curlSession, viaCurl).toBeDefined();
      expect(viaCurl.match(new RegExp(`"id":"${curlSession}"`, "g"))).toHaveLength(2);
      expect(viaCurl).toContain('"service":"session-controller"');
    } finally {
      killProcessTree(mesh.child.pid as number);
    }
  }, 300_000);
});
