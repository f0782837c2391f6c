/**
 * The CLI against fakes served by the runtime's real server (startServer, in this process), for
 * what a real mesh does not show on demand: a session that ends FAILED or never settles under
 * `sessions create --wait`, and the exact update mask `rules edit` sends.
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type AlertRule,
  AlertRuleSchema,
  CreateSessionResponseSchema,
  GetSessionResponseSchema,
  ResourceMonitorService,
  SessionControllerService,
  type SessionSchema,
  SessionState,
  TerminateSessionResponseSchema,
  UpdateAlertRuleResponseSchema,
} from "@lucid-rdp/gen";
import {
  createLogger,
  type RunningServer,
  readRuntimeConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { findTool, skipOrFail } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, lucidRdp, lucidRdpBin } from "./support/run-lucid-rdp.js";

const stuckId = "0b6c58a4-1c1e-4f4e-9a55-3a0f2d6c0001";
const failingId = "0b6c58a4-1c1e-4f4e-9a55-3a0f2d6c0002";
const ruleId = "0b6c58a4-1c1e-4f4e-9a55-3a0f2d6c0003";
const liveId = "0b6c58a4-1c1e-4f4e-9a55-3a0f2d6c0004";
/** The sessions TerminateSession was called for. */
const terminated: string[] = [];

/** Sessions by id; a session of user "stuck" stays PROVISIONING, any other FAILS once read. */
const sessions = new Map<string, MessageInitShape<typeof SessionSchema>>();
/** The UpdateAlertRule requests received. */
const updates: { paths: string[]; rule: AlertRule | undefined }[] = [];

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({
    config: readRuntimeConfig({ serviceName: "fake", port: 0 }, {}),
    logger: createLogger({ service: "fake", level: "silent" }),
    services: [SessionControllerService, ResourceMonitorService],
    routes: (router) => {
      router.service(SessionControllerService, {
        createSession: (req) => {
          const id = req.user === "stuck" ? stuckId : failingId;
          const session = { id, user: req.user, state: SessionState.PENDING };
          sessions.set(id, session);
          return create(CreateSessionResponseSchema, { session });
        },
        terminateSession: (req) => {
          terminated.push(req.sessionId);
          return create(TerminateSessionResponseSchema, {
            session: { id: req.sessionId, user: "bob", state: SessionState.TERMINATING },
          });
        },
        getSession: (req) => {
          if (req.sessionId === liveId) {
            return create(GetSessionResponseSchema, {
              session: { id: liveId, user: "bob", state: SessionState.ACTIVE, connectionCount: 1 },
            });
          }
          const s = sessions.get(req.sessionId);
          if (s === undefined) throw new Error("unknown session");
          const next =
            s.user === "stuck"
              ? { ...s, state: SessionState.PROVISIONING, nodeId: "node-1" }
              : {
                  ...s,
                  state: SessionState.FAILED,
                  stateMessage: "no healthy node accepts servers: node-1: xrdp is not installed",
                };
          sessions.set(req.sessionId, next);
          return create(GetSessionResponseSchema, { session: next });
        },
      });
      router.service(ResourceMonitorService, {
        updateAlertRule: (req) => {
          updates.push({ paths: req.updateMask?.paths ?? [], rule: req.alertRule });
          return create(UpdateAlertRuleResponseSchema, {
            alertRule: { ...create(AlertRuleSchema, req.alertRule), displayName: "kept" },
          });
        },
      });
    },
  });
});
afterAll(async () => {
  await server?.shutdown();
});

const env = () => ({
  LUCID_SESSION_CONTROLLER_URL: server.url,
  LUCID_RESOURCE_MONITOR_URL: server.url,
});

describe("lucid-rdp sessions create --wait", () => {
  it("exits 1 with the reason when the session ends FAILED (and writes no .rdp)", async () => {
    const rdp = join(tmpdir(), `lucid-rdp-failed-${process.pid}.rdp`);
    const run = await lucidRdp(["sessions", "create", "--user", "alice", "--rdp", rdp], env());
    expect(run.code).toBe(1);
    expect(existsSync(rdp)).toBe(false);
    expect(run.stdout).toMatch(/state: +FAILED/);
    expect(run.stderr).toContain(
      `session ${failingId} FAILED: no healthy node accepts servers: node-1: xrdp is not installed`,
    );
  });

  it("exits 4 (DEADLINE_EXCEEDED) when the session does not settle within --wait-timeout", async () => {
    const run = await lucidRdp(
      ["sessions", "create", "--user", "stuck", "--wait", "--wait-timeout", "1s"],
      env(),
    );
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`session ${stuckId} still PROVISIONING after 1s (--wait-timeout)`);
  });
});

describe("lucid-rdp rules edit", () => {
  it("sends an update mask of exactly the flags given", async () => {
    updates.length = 0;
    const run = await lucidRdp(
      [
        "--json",
        "rules",
        "edit",
        ruleId,
        "--threshold",
        "95",
        "--disable",
        "--selector",
        "device=~sd.",
      ],
      env(),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.paths).toEqual(["threshold", "selector", "disabled"]);
    expect(updates[0]?.rule).toMatchObject({ id: ruleId, threshold: 95, disabled: true });
    expect(JSON.parse(run.stdout)).toMatchObject({ id: ruleId, displayName: "kept" });
  });
});

/** Runs `lucid-rdp args...` on a pseudo-terminal (util-linux `script`), typing `input`. */
function onTerminal(script: string, args: string[], input: string): Promise<CliRun> {
  const command = [process.execPath, lucidRdpBin, ...args].map((a) => `'${a}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(script, ["-qec", command, "/dev/null"], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...env() },
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr: "" }));
    child.stdin.end(input);
  });
}

describe("lucid-rdp sessions terminate", () => {
  it("asks on a terminal, naming the user, and terminates only on yes", async (ctx) => {
    const script = findTool("script", "apt-get install -y util-linux");
    if (script === undefined) skipOrFail(ctx, "util-linux script (a pseudo-terminal) is missing");
    terminated.length = 0;
    const no = await onTerminal(script, ["sessions", "terminate", liveId], "n\n");
    expect(no.code, no.stdout).toBe(0);
    expect(no.stdout).toContain(`Terminate session ${liveId} of bob, 1 connected? [y/N]`);
    expect(no.stdout).toContain("not terminated");
    expect(terminated).toEqual([]);

    const yes = await onTerminal(script, ["sessions", "terminate", liveId], "y\n");
    expect(yes.code, yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(/state: +TERMINATING/);
    expect(terminated).toEqual([liveId]);
  }, 90_000);
});

describe("lucid-rdp sessions create --wait on a terminal", () => {
  it("shows a spinner with the session's state, ending in a mark", async (ctx) => {
    const script = findTool("script", "apt-get install -y util-linux");
    if (script === undefined) skipOrFail(ctx, "util-linux script (a pseudo-terminal) is missing");
    const run = await onTerminal(script, ["sessions", "create", "--user", "alice", "--wait"], "");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`session ${failingId} PENDING (`);
    expect(run.stdout).toMatch(new RegExp(`✖ session ${failingId} FAILED \\(`));
  }, 90_000);
});
