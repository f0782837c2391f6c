import { Writable } from "node:stream";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type RegisterNodeRequest, ServerManagerService } from "@lucid-rdp/gen";
import {
  createLogger,
  type RunningServer,
  readRuntimeConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  buildRegisterNodeRequest,
  describeFailingChecks,
  NodeHeartbeat,
  type NodeRegistration,
  type ScheduleTimer,
  toStatusMessage,
} from "./node-heartbeat.js";

const node: NodeRegistration = {
  nodeId: "node-a",
  advertiseHost: "10.0.0.7",
  apiPort: 3389,
  rdpHost: "rdp.example.com",
  maxServers: 16,
  portRange: { start: 3390, end: 3489 },
  labels: { zone: "eu-1", gpu: "none" },
  leaseTtlMs: 15_000,
  xrdpVersion: "0.9.21",
};

/** A server-manager that only answers RegisterNode, recording every request it gets. */
const fake = {
  requests: [] as RegisterNodeRequest[],
  failNext: 0,
  intervalMs: 100 as number | undefined,
  server: undefined as RunningServer | undefined,
};

beforeAll(async () => {
  fake.server = await startServer({
    config: readRuntimeConfig({ serviceName: "fake-sm", port: 0 }, {}),
    logger: createLogger({ service: "fake-sm", level: "silent" }),
    services: [ServerManagerService],
    routes: (router) =>
      router.service(ServerManagerService, {
        registerNode(req) {
          fake.requests.push(req);
          if (fake.failNext > 0) {
            fake.failNext--;
            throw new ConnectError("server-manager restarting", Code.Unavailable);
          }
          return {
            heartbeatInterval:
              fake.intervalMs === undefined ? undefined : durationFromMs(fake.intervalMs),
          };
        },
      }),
  });
});

afterAll(async () => {
  await fake.server?.shutdown();
});

let running: NodeHeartbeat | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
  fake.requests = [];
  fake.failNext = 0;
  fake.intervalMs = 100;
});

/** Collects the log lines of a heartbeat. */
function captureLogs() {
  const lines: { level: string; msg: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l !== "") lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger({ service: "test", level: "debug", destination }) };
}

/**
 * A controllable clock for the heartbeat's timer: a scheduled heartbeat runs only when the test
 * advances the clock past it, so "nothing happened" is asserted after time passed, not after a
 * sleep. RegisterNode calls themselves are real, over loopback.
 */
class ManualTimers {
  /** Milliseconds the test has advanced the clock by. */
  now = 0;
  private pending: { at: number; ms: number; fn: () => void }[] = [];

  readonly schedule: ScheduleTimer = (fn, ms) => {
    const timer = { at: this.now + ms, ms, fn };
    this.pending.push(timer);
    return () => {
      this.pending = this.pending.filter((t) => t !== timer);
    };
  };

  /** The delays of the timers scheduled and not yet run or cancelled. */
  get delays(): number[] {
    return this.pending.map((t) => t.ms);
  }

  /** Moves the clock on by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const next = this.pending.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.pending = this.pending.filter((t) => t !== next);
      this.now = next.at;
      next.fn();
    }
    this.now = end;
  }

  /** Runs the next timer as soon as one is scheduled, until `cond` holds. */
  async runUntil(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
    await until(() => {
      if (cond()) return true;
      const next = [...this.pending].sort((a, b) => a.at - b.at)[0];
      if (next !== undefined) this.advance(next.at - this.now);
      return cond();
    }, timeoutMs);
  }
}

function startHeartbeat(opts: { serving?: () => boolean; statusMessage?: () => string } = {}) {
  const logs = captureLogs();
  const timers = new ManualTimers();
  running = new NodeHeartbeat({
    baseUrl: fake.server!.url,
    node,
    serving: opts.serving ?? (() => true),
    statusMessage: opts.statusMessage,
    logger: logs.logger,
    deadlineMs: 2_000,
    schedule: timers.schedule,
  });
  running.start();
  return { heartbeat: running, logs: logs.lines, timers };
}

/** Polls `cond` until it holds. */
async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Checks that a RegisterNode request carries the test node's fields. */
function expectNodeFields(req: RegisterNodeRequest): void {
  expect(req.nodeId).toBe("node-a");
  expect(req.address).toMatchObject({ host: "10.0.0.7", port: 3389 });
  expect(req.rdpHost).toBe("rdp.example.com");
  expect(req.maxServers).toBe(16);
  expect(req.portRange).toMatchObject({ start: 3390, end: 3489 });
  expect(req.labels).toEqual({ zone: "eu-1", gpu: "none" });
  expect(durationMs(req.leaseTtl!)).toBe(15_000);
}

describe("buildRegisterNodeRequest()", () => {
  it("maps the node's fields and leaves the status message empty while serving", () => {
    const req = buildRegisterNodeRequest(node, { serving: true, message: "ignored" });
    expectNodeFields(req);
    expect(req.serving).toBe(true);
    expect(req.statusMessage).toBe("");
    expect(req.xrdpVersion).toBe("0.9.21");
  });

  it("reports why the node is not serving, printable and at most 256 characters", () => {
    const req = buildRegisterNodeRequest(node, {
      serving: false,
      message: `xrdp: missing\nredis:\tdown\u007f\u0085\u009b${"é".repeat(400)}`,
    });
    expect(req.serving).toBe(false);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the contract's rule for status_message
    expect(req.statusMessage).toMatch(/^[^\x00-\x1F\x7F-\x9F]*$/);
    expect(req.statusMessage.startsWith("xrdp: missing redis: down   ")).toBe(true);
    expect(Array.from(req.statusMessage)).toHaveLength(256);
    expect(buildRegisterNodeRequest(node, { serving: false }).statusMessage).toBe("not serving");
  });

  it("sends an empty xrdp version when xrdp is missing or the version is odd", () => {
    const missing = { ...node, xrdpVersion: undefined };
    expect(buildRegisterNodeRequest(missing, { serving: true }).xrdpVersion).toBe("");
    const odd = { ...node, xrdpVersion: "0.9 beta" };
    expect(buildRegisterNodeRequest(odd, { serving: true }).xrdpVersion).toBe("");
  });
});

describe("toStatusMessage()", () => {
  it("keeps a short printable message as it is", () => {
    expect(toStatusMessage("xrdp: not installed")).toBe("xrdp: not installed");
  });

  it("never splits a surrogate pair when cutting", () => {
    const cut = toStatusMessage("😀".repeat(300));
    expect(Array.from(cut)).toHaveLength(256);
    expect(cut).toBe(`${"😀".repeat(255)}…`);
  });
});

describe("describeFailingChecks()", () => {
  it("lists the failing checks and shutdown", () => {
    const at = new Date().toISOString();
    expect(
      describeFailingChecks({
        status: "NOT_SERVING",
        shuttingDown: true,
        checks: {
          mongo: { ok: true, checkedAt: at },
          xrdp: { ok: false, error: "xrdp is not installed", checkedAt: at },
        },
      }),
    ).toBe("shutting down; xrdp: xrdp is not installed");
  });
});

describe("NodeHeartbeat", () => {
  describe("start()", () => {
    it("sends RegisterNode with the node's fields and its health", async () => {
      const { heartbeat } = startHeartbeat({
        serving: () => false,
        statusMessage: () => "xrdp: xrdp is not installed",
      });
      await until(() => fake.requests.length >= 1);
      const req = fake.requests[0]!;
      expectNodeFields(req);
      expect(req.serving).toBe(false);
      expect(req.statusMessage).toBe("xrdp: xrdp is not installed");
      expect(req.xrdpVersion).toBe("0.9.21");
      await until(() => heartbeat.isRegistered);
    });

    it("repeats at the heartbeat_interval the response returns, not a third of the TTL", async () => {
      const { timers } = startHeartbeat();
      await until(() => timers.delays.length === 1);
      expect(timers.delays).toEqual([100]);
      // A third of the 15 s TTL would allow one call in 5 s; 100 ms allows five in 400 ms.
      await timers.runUntil(() => fake.requests.length >= 5);
      expect(timers.now).toBeLessThan(4_000);
      expect(timers.now).toBe(400);
    });

    it("keeps going through UNAVAILABLE, warning once per outage and noting the recovery", async () => {
      const { heartbeat, logs, timers } = startHeartbeat();
      await until(() => heartbeat.isRegistered);
      // Enough failures to outlast the client's own retries over at least two heartbeats.
      fake.failNext = 7;
      await timers.runUntil(() => logs.some((l) => l.msg.startsWith("node heartbeat failed")));
      expect(heartbeat.isRegistered).toBe(false);
      await timers.runUntil(() => fake.failNext === 0 && heartbeat.isRegistered);
      const afterRecovery = fake.requests.length;
      await timers.runUntil(() => fake.requests.length >= afterRecovery + 2);
      expect(logs.filter((l) => l.msg.startsWith("node heartbeat failed"))).toHaveLength(1);
      expect(logs.filter((l) => l.level === "warn")).toHaveLength(1);
      expect(logs.filter((l) => l.msg.startsWith("node heartbeat recovered"))).toHaveLength(1);
    });

    it("retries within a second while server-manager is not reachable yet, warning once without a stack", async () => {
      fake.intervalMs = undefined; // the heartbeat's interval: a third of the 15 s TTL
      // Enough failures to outlast the client's own retries over at least two heartbeats.
      fake.failNext = 7;
      const { heartbeat, logs, timers } = startHeartbeat();
      await timers.runUntil(() => heartbeat.isRegistered);
      // Registered as soon as server-manager answers, not one 5 s interval later.
      expect(timers.now).toBeLessThan(1_000);
      await until(() => timers.delays.length === 1);
      expect(timers.delays).toEqual([5_000]);
      const warnings = logs.filter((l) => l.level === "warn");
      expect(warnings.map((l) => l.msg)).toEqual([
        `server-manager not reachable yet at ${fake.server!.url}; retrying`,
      ]);
      expect(JSON.stringify(warnings)).not.toMatch(/\\n\s+at /);
      expect(logs.filter((l) => l.level === "info").map((l) => l.msg)).toEqual([
        "registered with server-manager",
      ]);
    });

    it("falls back to a third of the TTL when the response has no interval", async () => {
      fake.intervalMs = undefined;
      const { heartbeat, timers } = startHeartbeat();
      await until(() => heartbeat.isRegistered && timers.delays.length === 1);
      expect(timers.delays).toEqual([5_000]);
      timers.advance(4_999);
      expect(fake.requests).toHaveLength(1);
      timers.advance(1);
      await until(() => fake.requests.length === 2);
    });
  });

  describe("stop()", () => {
    it("reports the node as shutting down once, then sends nothing more", async () => {
      const { heartbeat, timers } = startHeartbeat();
      await timers.runUntil(() => fake.requests.length >= 2);
      await heartbeat.stop();
      const last = fake.requests.at(-1)!;
      expect(last.serving).toBe(false);
      expect(last.statusMessage).toBe("shutting down");
      const count = fake.requests.length;
      // Three intervals of silence: the timer is gone.
      expect(timers.delays).toEqual([]);
      timers.advance(300);
      expect(fake.requests).toHaveLength(count);
      await heartbeat.stop();
      expect(fake.requests).toHaveLength(count);
    });

    it("does not report anything when the node never registered", async () => {
      fake.failNext = 1_000;
      const { heartbeat, logs } = startHeartbeat();
      await until(() => logs.some((l) => l.level === "warn"));
      const count = fake.requests.length;
      await heartbeat.stop();
      expect(fake.requests).toHaveLength(count);
    });
  });
});
