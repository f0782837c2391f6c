/**
 * The real `lucid-rdp` bin against ONE full-process mesh (server-manager, session-controller, one
 * xrdp-integration node on real xrdp and its resource-monitor, on real Redis and FerretDB): a
 * session's life (create --wait --rdp, get, ls --json, terminate --yes), drain and undrain, alert
 * rules created, edited (only the given fields) and listed, an alert silenced, the audit log, and
 * the exit codes of NOT_FOUND, INVALID_ARGUMENT and UNAVAILABLE.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Mesh, meshFixture, type SkipContext, waitFor } from "@lucid-rdp/testing";
import { afterAll, describe, expect, it } from "vitest";
import { type CliRun, jsonOf, lucidRdp, lucidRdpBin } from "./support/run-lucid-rdp.js";

const fixture = meshFixture({ sessionController: true, resourceMonitor: true, xrdpNodes: 1 });
const dir = mkdtempSync(join(tmpdir(), "lucid-rdp-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The env that points the CLI at the mesh. */
function meshEnv(mesh: Mesh): Record<string, string> {
  const url = (s: { port: number } | undefined) => `http://127.0.0.1:${s?.port}`;
  return {
    LUCID_SESSION_CONTROLLER_URL: url(mesh.sessionControllers[0]),
    LUCID_SERVER_MANAGER_URL: url(mesh.serverManagers[0]),
    LUCID_RESOURCE_MONITOR_URL: url(mesh.resourceMonitors[0]),
  };
}

/** Runs the CLI against the mesh of `ctx`. */
async function cli(ctx: SkipContext, ...args: string[]): Promise<CliRun> {
  const mesh = fixture.need(ctx);
  return lucidRdp(args, meshEnv(mesh), 150_000);
}

/** `run` succeeded; else a failure message with what it printed. */
function ok(run: CliRun): CliRun {
  expect(run.code, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
  return run;
}

interface SessionJson {
  id: string;
  user: string;
  state: string;
  connectInfo?: { rdpFile?: string; endpoint?: { host: string; port: number } };
}

describe("lucid-rdp against a mesh", () => {
  it("creates a session with --wait --rdp, gets, lists and terminates it", async (ctx) => {
    const user = `cli-${randomUUID().slice(0, 8)}`;
    const rdp = join(dir, "session.rdp");
    const created = ok(
      await cli(ctx, "sessions", "create", "--user", user, "--wait", "--rdp", rdp),
    );
    const id = created.stdout.split("\n")[0] ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.stdout).toMatch(/connect to: +127\.0\.0\.1:\d+/);
    expect(created.stderr).toContain(`wrote ${rdp}`);
    expect(readFileSync(rdp, "utf8")).toMatch(/full address:s:127\.0\.0\.1:\d+/);

    const got = jsonOf<SessionJson>(ok(await cli(ctx, "--json", "sessions", "get", id)));
    expect(got).toMatchObject({ id, user, state: "SESSION_STATE_READY" });

    const table = ok(await cli(ctx, "sessions", "get", id)).stdout;
    expect(table).toMatch(/state: +READY/);
    expect(table).toMatch(/created: +\S+ \(\d+s ago\)/);

    const listed = jsonOf<SessionJson[]>(
      ok(await cli(ctx, "--json", "sessions", "ls", "--user", user, "--state", "ready")),
    );
    expect(listed.map((s) => s.id)).toEqual([id]);
    const human = ok(await cli(ctx, "sessions", "ls", "--user", user)).stdout;
    expect(human.split("\n")[0]).toMatch(/^ID +USER +STATE +NODE +ENDPOINT/);
    expect(human).toContain(id);

    const terminated = jsonOf<SessionJson>(
      ok(await cli(ctx, "--json", "sessions", "terminate", id, "--yes", "--reason", "cli test")),
    );
    expect(terminated.state).toMatch(/SESSION_STATE_TERMINAT(ING|ED)/);
    await waitFor(
      "the session TERMINATED",
      async () => jsonOf<SessionJson>(ok(await cli(ctx, "--json", "sessions", "get", id))).state,
      { until: (s) => s === "SESSION_STATE_TERMINATED", timeoutMs: 60_000, intervalMs: 500 },
    );

    const audit = jsonOf<{ action: string; details?: Record<string, string> }[]>(
      ok(await cli(ctx, "--json", "audit", "--resource", `session/${id}`, "--since", "1h")),
    );
    expect(audit.map((e) => e.action)).toEqual(
      expect.arrayContaining(["session.create", "session.ready", "session.terminated"]),
    );
    const auditTable = ok(await cli(ctx, "audit", "--resource", `session/${id}`)).stdout;
    expect(auditTable.split("\n")[0]).toMatch(/^TIME +ACTOR +ACTION +RESOURCE +DETAILS/);
    expect(auditTable).toContain(`session/${id}`);
    const none = jsonOf<unknown[]>(
      ok(await cli(ctx, "--json", "audit", "--resource", `session/${id}`, "--until", "1d")),
    );
    expect(none).toEqual([]);
  }, 240_000);

  it("follows sessions with watch --json, one event a line, from the moment it starts", async (ctx) => {
    const mesh = fixture.need(ctx);
    const user = `cli-${randomUUID().slice(0, 8)}`;
    const watch = spawn(
      process.execPath,
      [lucidRdpBin, "--json", "sessions", "watch", "--user", user],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...meshEnv(mesh) },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      let stderr = "";
      watch.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const events: { type: string; session?: { state: string; user: string } }[] = [];
      createInterface({ input: watch.stdout }).on("line", (l) => events.push(JSON.parse(l)));
      await waitFor("the watch started", () => (stderr.includes("following") ? true : undefined), {
        detail: () => stderr,
      });
      ok(await cli(ctx, "sessions", "create", "--user", user));
      await waitFor(
        "a READY event on the watch",
        () => events.find((e) => e.session?.state === "SESSION_STATE_READY"),
        { timeoutMs: 60_000, detail: () => JSON.stringify(events) },
      );
      expect(events[0]).toMatchObject({
        type: "SESSION_EVENT_TYPE_CREATED",
        session: { user, state: "SESSION_STATE_PENDING" },
      });
    } finally {
      watch.kill("SIGTERM");
    }
  }, 120_000);

  it("drains and undrains a node", async (ctx) => {
    const nodes = jsonOf<{ id: string; health: string }[]>(
      ok(await cli(ctx, "--json", "nodes", "ls")),
    );
    expect(nodes.map((n) => [n.id, n.health])).toEqual([["node-1", "NODE_HEALTH_HEALTHY"]]);
    const drained = jsonOf<{ draining?: boolean }>(
      ok(await cli(ctx, "--json", "nodes", "drain", "node-1")),
    );
    expect(drained.draining).toBe(true);
    expect(ok(await cli(ctx, "nodes", "ls")).stdout).toMatch(/node-1 +HEALTHY +DRAINING/);
    const undrained = jsonOf<{ draining?: boolean }>(
      ok(await cli(ctx, "--json", "nodes", "undrain", "node-1")),
    );
    expect(undrained.draining ?? false).toBe(false);
    expect(ok(await cli(ctx, "nodes", "ls")).stdout).toMatch(/node-1 +HEALTHY +no/);
  }, 120_000);

  it("creates, edits (only the given fields) and lists rules, and silences an alert", async (ctx) => {
    const created = jsonOf<Record<string, unknown> & { id: string }>(
      ok(
        await cli(
          ctx,
          "--json",
          "rules",
          "create",
          "--name",
          "cli test: host has processes",
          "--metric",
          "host-cpu-usage-percent",
          "--comparison",
          ">=",
          "--threshold",
          "0",
          "--severity",
          "warning",
          "--label",
          "team=ops",
          "--summary",
          "cli test alert",
        ),
      ),
    );
    expect(created).toMatchObject({
      displayName: "cli test: host has processes",
      metric: "ALERT_METRIC_HOST_CPU_USAGE_PERCENT",
      comparison: "COMPARISON_GREATER_THAN_OR_EQUAL",
      severity: "SEVERITY_WARNING",
      labels: { team: "ops" },
    });

    const edited = jsonOf<Record<string, unknown>>(
      ok(
        await cli(
          ctx,
          "--json",
          "rules",
          "edit",
          created.id,
          "--severity",
          "critical",
          "--for",
          "0s",
        ),
      ),
    );
    expect(edited).toMatchObject({
      id: created.id,
      severity: "SEVERITY_CRITICAL",
      // Fields not given keep their values: the mask named severity and for_duration only.
      displayName: "cli test: host has processes",
      summary: "cli test alert",
      labels: { team: "ops" },
    });
    const rules = ok(await cli(ctx, "rules", "ls")).stdout;
    expect(rules).toContain(created.id);
    expect(rules).toMatch(/HOST_CPU_USAGE_PERCENT >= 0 +CRITICAL/);

    const alert = await waitFor(
      "the rule's alert FIRING",
      async () =>
        jsonOf<{ id: string; state: string }[]>(
          ok(await cli(ctx, "--json", "alerts", "ls", "--rule", created.id)),
        ).find((a) => a.state === "ALERT_STATE_FIRING"),
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const silenced = jsonOf<{ silencedUntil?: string; silenceComment?: string }>(
      ok(
        await cli(ctx, "--json", "alerts", "silence", alert.id, "--for", "1h", "--comment", "cli"),
      ),
    );
    expect(Date.parse(silenced.silencedUntil ?? "") - Date.now()).toBeGreaterThan(50 * 60_000);
    expect(silenced.silenceComment).toBe("cli");
    expect(ok(await cli(ctx, "alerts", "ls", "--rule", created.id)).stdout).toMatch(
      /FIRING \(silenced\)/,
    );

    // alerts ls --watch: the list as NDJSON, then the changes; lifting the silence is one.
    const watch = spawn(
      process.execPath,
      [lucidRdpBin, "--json", "alerts", "ls", "--rule", created.id, "--watch"],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...meshEnv(fixture.need(ctx)) },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const lines: { id?: string; type?: string; alert?: { id: string } }[] = [];
      createInterface({ input: watch.stdout }).on("line", (l) => lines.push(JSON.parse(l)));
      await waitFor("the listed alert", () => lines.find((l) => l.id === alert.id), {
        detail: () => JSON.stringify(lines),
      });
      ok(await cli(ctx, "alerts", "silence", alert.id, "--for", "0"));
      await waitFor(
        "an UNSILENCED event",
        () =>
          lines.find((l) => l.type === "ALERT_EVENT_TYPE_UNSILENCED" && l.alert?.id === alert.id),
        { timeoutMs: 30_000, detail: () => JSON.stringify(lines) },
      );
    } finally {
      watch.kill("SIGTERM");
    }

    ok(await cli(ctx, "rules", "delete", created.id));
    const gone = await cli(ctx, "rules", "get", created.id);
    expect(gone.code).toBe(5);
  }, 180_000);

  it("exits with the gRPC code and a decoded reason", async (ctx) => {
    const notFound = await cli(ctx, "sessions", "get", randomUUID());
    expect(notFound.code).toBe(5);
    expect(notFound.stderr).toMatch(/^error: NOT_FOUND: /);
    expect(notFound.stderr).toMatch(/\n {2}reason: [A-Z_]+/);

    const invalid = await cli(ctx, "sessions", "get", "not-a-uuid");
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toMatch(/^error: INVALID_ARGUMENT: /);
    expect(invalid.stderr).toMatch(/\n {2}field session_id: /);

    const badUser = await cli(ctx, "sessions", "create", "--user", "-bad");
    expect(badUser.code).toBe(3);
    expect(badUser.stderr).toContain("field user: ");
  }, 60_000);

  it("exits 14 with a hint when the service is not there", async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const run = await lucidRdp(["nodes", "ls"], {
      LUCID_SERVER_MANAGER_URL: `http://127.0.0.1:${closed}`,
    });
    expect(run.code).toBe(14);
    expect(run.stderr).toContain(
      `server-manager at http://127.0.0.1:${closed} is unreachable: is the mesh running? (npm start)`,
    );
  }, 60_000);
});
