/**
 * `npm start`'s launcher (scripts/start-mesh.ts) as a user meets it: a bad port variable exits 2
 * naming it, a taken port exits 1 naming the variable that moves it, the services start in
 * dependency order without stack traces, one line says when the mesh is ready, the log is quiet
 * at idle, and SIGHUP (the terminal closing) stops every service and every xrdp they started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findProcesses } from "@lucid-rdp/proc";
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
const xrdp = findTool("xrdp", "apt-get install -y xrdp"); // throws under CI=true when missing

interface Run {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly exited: Promise<number | null>;
}

/** Runs the launcher in a process group of its own, as a terminal runs a foreground job. */
function launch(env: Record<string, string>): Run {
  let out = "";
  const child = spawn(tsx, [launcher], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, out: () => out, exited };
}

/** Four free ports, one per service's variable. */
async function ports(): Promise<Record<string, string>> {
  return {
    SERVER_MANAGER_PORT: String(await freePort()),
    SESSION_CONTROLLER_PORT: String(await freePort()),
    XRDP_INTEGRATION_PORT: String(await freePort()),
    RESOURCE_MONITOR_PORT: String(await freePort()),
  };
}

describe("npm start's launcher", () => {
  it("exits 2 naming a port variable whose value is not a port", async () => {
    const run = launch({ ...(await ports()), SESSION_CONTROLLER_PORT: "eighty" });
    expect(await run.exited).toBe(2);
    expect(run.out()).toContain('SESSION_CONTROLLER_PORT="eighty" is not valid');
  });

  it("exits 2 naming both variables when two services are given one port", async () => {
    const env = await ports();
    const run = launch({ ...env, RESOURCE_MONITOR_PORT: env.SERVER_MANAGER_PORT as string });
    expect(await run.exited).toBe(2);
    expect(run.out()).toContain(
      `SERVER_MANAGER_PORT and RESOURCE_MONITOR_PORT are both ${env.SERVER_MANAGER_PORT}`,
    );
  });

  it("exits 1 naming the variable that moves a service off a port already taken", async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    try {
      const run = launch({ ...(await ports()), SESSION_CONTROLLER_PORT: String(port) });
      expect(await run.exited).toBe(1);
      expect(run.out()).toContain(
        `session-controller: port ${port} on 127.0.0.1 is already in use`,
      );
      expect(run.out()).toContain("set SESSION_CONTROLLER_PORT to another port");
      expect(run.out()).not.toMatch(/EADDRINUSE|\n\s+at /);
    } finally {
      taken.close();
    }
  });

  it("starts in dependency order without stack traces, says once when ready, is quiet at idle, and SIGHUP while an instance starts stops every service and xrdp", async (ctx) => {
    if (xrdp === undefined) skipOrFail(ctx, "xrdp is missing");
    const stateDir = mkdtempSync(join(tmpdir(), "start-mesh-"));
    const env: Record<string, string> = {
      ...(await ports()),
      XRDP_STATE_DIR: stateDir,
      DATA_DIR: join(stateDir, "data"),
      XRDP_DISPLAY_RANGE: "850-880",
      NODE_PORT_RANGE: "24700-24799",
      WARM_POOL_SIZE: "1",
    };
    const run = launch(env);
    const ours = () =>
      findProcesses((p) => p.cmdline.some((a) => a.startsWith(`${stateDir}/`))).map((p) => p.pid);
    try {
      await waitFor("the mesh ready line", () => run.out(), {
        until: (o) => o.includes("mesh ready:"),
        timeoutMs: 90_000,
        detail: () => run.out().slice(-6_000),
      });
      expect(run.out()).toContain(
        `console at http://127.0.0.1:${env.SESSION_CONTROLLER_PORT}/console`,
      );
      expect(run.out().match(/mesh ready:/g)).toHaveLength(1);
      // Up to the ready line: each service started once the ones it calls listen, so no call was
      // refused, and nothing printed a stack trace (JSON-escaped or raw).
      const startUp = run.out().slice(0, run.out().indexOf("mesh ready:"));
      expect(startUp).not.toMatch(/\\n\s+at |\n\s+at /);
      expect(startUp).not.toContain("ECONNREFUSED");
      const listening = [...startUp.matchAll(/^(\S+)\s+\| >>> listening on/gm)].map((m) => m[1]);
      expect(listening).toEqual([
        "server-manager",
        "session-controller",
        "xrdp-integration",
        "resource-monitor",
      ]);
      // The node registered at its first heartbeat: server-manager was up before it started.
      expect(startUp).toContain('"msg":"registered with server-manager"');
      expect(startUp).not.toContain("not reachable yet");
      // The warm instance READY: an xrdp and its sesman of this state directory.
      const hostInfo = async () => {
        const res = await fetch(
          `http://127.0.0.1:${env.XRDP_INTEGRATION_PORT}/lucid.rdp.v1.XrdpIntegrationService/GetHostInfo`,
          { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
        );
        return ((await res.json()) as { hostInfo?: { warmPoolReady?: number } }).hostInfo;
      };
      await waitFor("the warm instance READY", hostInfo, {
        until: (h) => (h?.warmPoolReady ?? 0) >= 1,
        timeoutMs: 60_000,
      });
      expect(ours().length).toBeGreaterThanOrEqual(2);
      // Idle: the services poll each other and the node beats every few seconds, at debug only.
      const before = run.out().length;
      await new Promise((r) => setTimeout(r, 20_000));
      const idle = run.out().slice(before).split("\n").filter(Boolean);
      expect(idle.length, idle.join("\n")).toBeLessThanOrEqual(3);
      // A session takes the warm instance and the pool starts another: the terminal closes while
      // that one is STARTING (issue 19: its xrdp and sesman were once left behind).
      const rpc = async (port: string, path: string, body: unknown) =>
        (await fetch(`http://127.0.0.1:${port}/lucid.rdp.v1.${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        })
          .then((r) => r.json())
          .catch(() => ({}))) as { instances?: { state: string }[] };
      const creating = rpc(
        env.SESSION_CONTROLLER_PORT as string,
        "SessionControllerService/CreateSession",
        {
          requestId: crypto.randomUUID(),
          user: "alice",
        },
      );
      await waitFor(
        "a warm instance STARTING",
        () =>
          rpc(env.XRDP_INTEGRATION_PORT as string, "XrdpIntegrationService/ListInstances", {
            states: ["INSTANCE_STATE_STARTING"],
          }),
        { until: (r) => (r.instances ?? []).length > 0, intervalMs: 10, timeoutMs: 60_000 },
      );
      // A terminal closing: SIGHUP to the foreground job's process group (tsx and the launcher; the
      // services run in groups of their own and do not get it).
      const group = run.child.pid as number;
      process.kill(-group, "SIGHUP");
      await waitFor(
        "the launcher's group gone",
        () => findProcesses((p) => p.stat.pgrp === group),
        {
          until: (left) => left.length === 0,
          timeoutMs: 60_000,
        },
      );
      expect(run.out()).toContain("stopping the mesh");
      await creating;
      // The last xrdp children may still be being reaped as the launcher exits.
      expect(
        await waitFor("no xrdp or sesman left", ours, {
          until: (p) => p.length === 0,
          detail: () =>
            `${findProcesses((p) => p.cmdline.some((a) => a.startsWith(`${stateDir}/`)))
              .map(
                (p) => `${p.pid} ppid ${p.stat.ppid} pgrp ${p.stat.pgrp}: ${p.cmdline.join(" ")}`,
              )
              .join("\n")}\n--- launcher\n${run.out().slice(-5_000)}`,
        }),
      ).toEqual([]);
      for (const port of Object.values(env).filter((v) => /^[0-9]+$/.test(v))) {
        const free = await new Promise<boolean>((resolve) => {
          const s = createServer();
          s.once("error", () => resolve(false));
          s.listen(Number(port), "127.0.0.1", () => s.close(() => resolve(true)));
        });
        expect(free, `port ${port}`).toBe(true);
      }
    } finally {
      killProcessTree(run.child.pid as number);
      for (const pid of ours()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  }, 180_000);

  it("mints the mesh's token from AUTH_JWT_SECRET, so the node registers with auth on (at LOG_LEVEL=warn)", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "start-mesh-"));
    const run = launch({
      ...(await ports()),
      AUTH_JWT_SECRET: "a-secret-of-the-test-that-is-long-enough",
      XRDP_STATE_DIR: stateDir,
      DATA_DIR: join(stateDir, "data"),
      XRDP_DISPLAY_RANGE: "881-899",
      NODE_PORT_RANGE: "24800-24899",
      WARM_POOL_SIZE: "0",
      // At warn the services print no "listening" line: the launcher sees each listen by /livez
      // before it starts the next.
      LOG_LEVEL: "warn",
    });
    const group = run.child.pid as number;
    try {
      // "mesh ready" needs ListNodes to list the node: its heartbeat carried the minted token.
      await waitFor("the mesh ready line", () => run.out(), {
        until: (o) => o.includes("mesh ready:"),
        timeoutMs: 90_000,
      });
      expect(run.out()).not.toMatch(/UNAUTHENTICATED|unauthenticated/);
      expect(run.out()).not.toContain('"level":"info"');
      expect(run.out()).not.toContain("is not listening after");
      process.kill(-group, "SIGTERM");
      await waitFor(
        "the launcher's group gone",
        () => findProcesses((p) => p.stat.pgrp === group),
        {
          until: (left) => left.length === 0,
          timeoutMs: 60_000,
        },
      );
    } finally {
      killProcessTree(run.child.pid as number);
    }
  }, 150_000);
});
