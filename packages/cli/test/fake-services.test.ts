/**
 * The CLI against fakes served by the runtime's real server (startServer, in this process), for
 * what a real mesh does not show on demand: a session that ends FAILED or never settles under
 * `sessions create --wait`, and the exact update mask `rules edit` sends.
 */
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
  UpdateAlertRuleResponseSchema,
} from "@lucid-rdp/gen";
import {
  createLogger,
  type RunningServer,
  readRuntimeConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lucidRdp } from "./support/run-lucid-rdp.js";

const stuckId = "0b6c58a4-1c1e-4f4e-9a55-3a0f2d6c0001";
const failingId = "0b6c58a4-1c1e-4f4e-9a55-3a0f2d6c0002";
const ruleId = "0b6c58a4-1c1e-4f4e-9a55-3a0f2d6c0003";

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
        getSession: (req) => {
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
  it("exits 1 with the reason when the session ends FAILED", async () => {
    const run = await lucidRdp(["sessions", "create", "--user", "alice", "--wait"], env());
    expect(run.code).toBe(1);
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
