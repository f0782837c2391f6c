/**
 * xrdp-integration as a real process on real xrdp and FerretDB, with faults injected while
 * StartInstance calls are in flight (issue 15): kill -9 of the service, a FerretDB outage, SIGTERM
 * with and without stopping the instances. After each, the records must agree with the process
 * table, and a retry with the same request id must get the same instance, never a second xrdp.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { InstanceState, XrdpIntegrationService } from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { createLogger } from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import {
  type ChildServer,
  findTool,
  freePort,
  MissingToolError,
  type RealServer,
  repoRoot,
  sigterm,
  spawnService,
  startRedis,
} from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";
import type { InstanceRecord } from "../src/store/records.js";
import { xrdpIntegrationSpecs } from "../src/store/specs.js";
import { findOurProcesses } from "../src/supervisor/our-processes.js";
import { mongoWireForFile } from "./support/mongo-wire.js";
import { until } from "./support/until.js";

const main = `${repoRoot}services/xrdp-integration/src/main.ts`;
const xrdp = findTool("xrdp", "apt-get install -y xrdp"); // throws under CI=true when missing
const NODE_ID = "crash";

const ferret = mongoWireForFile();
const { running } = ferret;

/** One service's world: its state directory and database, and how to start it on them. */
function world(over: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "xrdp-crash-"));
  const db = `crash_${randomUUID().slice(0, 8)}`;
  const env = {
    PORT: "0",
    LOG_LEVEL: "info",
    NODE_ID,
    XRDP_STATE_DIR: dir,
    XRDP_SESMAN: "off",
    XRDP_BIN: xrdp ?? "/usr/sbin/xrdp",
    XRDP_MAX_INSTANCES: "64",
    // No keys ahead of time: each start makes its own, so a burst spreads over seconds and a
    // fault finds calls before their record, after their spawn and while they wait for READY.
    XRDP_TLS_KEY_POOL: "0",
    XRDP_HEALTH_INTERVAL_MS: "1000",
    HEALTH_CHECK_INTERVAL_MS: "1000",
    XRDP_STOP_ON_SHUTDOWN: "false",
    MONGODB_URI: (ferret.server() as RealServer).url,
    MONGODB_DB: db,
    ...over,
  };
  const mine: ChildServer[] = [];
  const start = async () => {
    const svc = await spawnService(main, env);
    running.push(svc);
    mine.push(svc);
    await until(
      async () => (await fetch(`${svc.url}/readyz`)).status,
      (s) => s === 200,
    );
    return svc;
  };
  /** Our xrdp processes now (group leaders, zombies excluded). */
  const processes = () => findOurProcesses(dir).filter((p) => p.kind === "xrdp");
  /** Every stored instance, read straight from the database. */
  const records = async (): Promise<InstanceRecord[]> => {
    const b = openBackends(
      {
        mongoUri: (ferret.server() as RealServer).url,
        mongoDb: `${db}_${NODE_ID}`,
        writeConcern: "majority",
        idempotencyTtlMs: 86_400_000,
        auditRetentionMs: 86_400_000,
      },
      { logger: createLogger({ service: "test", level: "silent" }), specs: xrdpIntegrationSpecs },
    );
    try {
      const r = await until(
        () => b.stores.instances.list({ pageSize: 1000 }).catch(() => undefined),
        (p) => p !== undefined,
        20_000,
      );
      return r?.items ?? [];
    } finally {
      await b.close();
    }
  };
  /** The services first (a live one would restart what is killed), then their xrdp. */
  const cleanup = async () => {
    for (const svc of mine) {
      svc.kill("SIGKILL");
      await svc.exited;
    }
    for (const p of findOurProcesses(dir)) process.kill(-p.pid, "SIGKILL");
  };
  return { dir, env, start, processes, records, cleanup };
}

type Request = {
  requestId: string;
  serverId: string;
  owner: string;
  port: number;
  waitTimeout: { seconds: bigint };
};

async function requests(n: number): Promise<Request[]> {
  const out: Request[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      requestId: randomUUID(),
      serverId: randomUUID(),
      owner: "lucidtest",
      port: await freePort(),
      waitTimeout: { seconds: 20n },
    });
  }
  return out;
}

/** Calls StartInstance; resolves with the instance or the error, and when it settled. */
function call(url: string, req: Request) {
  const c = createNodeClient(XrdpIntegrationService, { baseUrl: url });
  return c.startInstance(req, { timeoutMs: 40_000 }).then(
    (r) => ({ instance: r.instance, error: undefined, at: Date.now() }),
    (e: unknown) => ({ instance: undefined, error: ConnectError.from(e), at: Date.now() }),
  );
}

type Answer = Awaited<ReturnType<typeof call>>;

/** Calls StartInstance again with the same request until the instance is READY, up to `ms`. */
async function untilReady(url: string, req: Request, ms = 60_000): Promise<Answer[]> {
  const deadline = Date.now() + ms;
  const answers: Answer[] = [];
  for (;;) {
    const a = await call(url, req);
    answers.push(a);
    if (a.instance?.state === InstanceState.READY || Date.now() > deadline) return answers;
  }
}

/** Resolves once at least `n` of our xrdp processes run (some of the burst has spawned). */
function spawned(w: ReturnType<typeof world>, n = 1) {
  return until(
    () => w.processes().length,
    (k) => k >= n,
    30_000,
  );
}

/**
 * The invariant: each live record's pid is one of our processes, and each process has one. A pid
 * write an outage lost is written again by the next reconcile (every XRDP_HEALTH_INTERVAL_MS), so
 * the records are read until they agree, for a few intervals, and then asserted.
 */
async function expectRecordsMatchProcesses(w: ReturnType<typeof world>) {
  const read = async () => {
    const live = (await w.records()).filter((r) =>
      ["STARTING", "READY", "RESTARTING", "STOPPING"].includes(r.state),
    );
    return { live, pids: w.processes().map((p) => p.pid) };
  };
  const agree = (x: Awaited<ReturnType<typeof read>>) =>
    JSON.stringify(x.live.map((r) => r.pid).sort()) === JSON.stringify([...x.pids].sort());
  const { live, pids } = await until(read, agree, 10_000).catch(() => read());
  expect(live.map((r) => r.state).filter((s) => s !== "READY")).toEqual([]);
  expect(live.map((r) => r.pid).sort()).toEqual([...pids].sort());
}

describe("xrdp-integration crash consistency", () => {
  const skip = (ctx: { skip: () => void; task: { name: string } }) => {
    if (xrdp !== undefined && ferret.missing() === undefined) return false;
    ferret.missing()?.report(ctx.task.name);
    ctx.skip();
    return true;
  };

  it("answers a StartInstance retried after kill -9 with the same instance, READY, never a second xrdp", async (ctx) => {
    if (skip(ctx)) return;
    const w = world();
    try {
      const first = await w.start();
      const reqs = await requests(12);
      const burst = reqs.map((r) => call(first.url, r));
      await spawned(w);
      first.kill("SIGKILL"); // a crash: some calls before their record, some spawned, some waiting
      await first.exited;
      // The fault came mid-burst: some calls had spawned their xrdp, others not yet.
      expect(w.processes().length).toBeLessThan(reqs.length);
      const cut = await Promise.all(burst);
      const second = await w.start();
      // Each retried with its own request id until READY, as a careful client does (a record whose
      // write the crash cut is held by the store's claim for up to 30 s), then once more; and 20
      // calls at once with one new request id.
      const answers = await Promise.all(reqs.map((r) => untilReady(second.url, r)));
      const retried = answers.map((a) => a.at(-1) as Answer);
      // Each refusal with its reason, so that a failure says which (code and message).
      const refusals = answers
        .flat()
        .flatMap((r) => (r.error ? [`${r.error.code} ${r.error.rawMessage}`] : []));
      expect([...new Set(refusals)]).toEqual([]);
      expect(answers.map((a) => new Set(a.map((r) => r.instance?.id)).size)).toEqual(
        reqs.map(() => 1),
      );
      expect(retried.map((r) => r.instance?.state)).toEqual(reqs.map(() => InstanceState.READY));
      for (const [i, c] of cut.entries()) {
        if (c.instance) expect(retried[i]?.instance?.id).toBe(c.instance.id);
      }
      const again = await Promise.all(reqs.map((r) => call(second.url, r)));
      expect(again.map((r) => r.instance?.id)).toEqual(retried.map((r) => r.instance?.id));
      expect(new Set(again.map((r) => r.instance?.id)).size).toBe(reqs.length);
      const [one] = await requests(1);
      const twenty = await Promise.all(
        Array.from({ length: 20 }, () => call(second.url, one as Request)),
      );
      expect(twenty.map((r) => r.error?.code).filter((c) => c !== undefined)).toEqual([]);
      expect(new Set(twenty.map((r) => r.instance?.id)).size).toBe(1);
      expect(w.processes()).toHaveLength(reqs.length + 1);
      await expectRecordsMatchProcesses(w);
    } finally {
      await w.cleanup();
    }
  }, 180_000);

  it("settles every instance READY or FAILED once FerretDB is back, answering UNAVAILABLE meanwhile", async (ctx) => {
    if (skip(ctx)) return;
    const db = ferret.server() as RealServer;
    const w = world();
    try {
      const svc = await w.start();
      const reqs = await requests(8);
      const burst = reqs.map((r) => call(svc.url, r));
      await spawned(w);
      await db.stop();
      const down = Date.now();
      // Readiness follows the outage, without waiting for it to end.
      const status = await until(
        async () => (await fetch(`${svc.url}/readyz`)).status,
        (s) => s === 503,
        8_000,
      );
      expect(status).toBe(503);
      const during = await Promise.all((await requests(3)).map((r) => call(svc.url, r)));
      expect(during.map((r) => r.error?.code)).toEqual([
        Code.Unavailable,
        Code.Unavailable,
        Code.Unavailable,
      ]);
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - down))));
      await db.start();
      const cut = await Promise.all(burst);
      for (const c of cut) {
        if (c.error)
          expect([c.error.code, c.error.rawMessage]).toEqual([
            Code.Unavailable,
            c.error.rawMessage,
          ]);
      }
      expect(
        await until(
          async () => (await fetch(`${svc.url}/readyz`)).status,
          (s) => s === 200,
        ),
      ).toBe(200);
      // Nothing left STARTING: what the supervisor saw during the outage reaches the records.
      // Usually within seconds; a write the outage cut leaves its version claim to the store's
      // claim timeout (30 s with MongoDB), hence the margin.
      const settled = await until(
        () => w.records(),
        (rs) => rs.every((r) => r.state === "READY" || r.state === "FAILED"),
        40_000,
      );
      expect(settled.filter((r) => r.state !== "READY" && r.state !== "FAILED")).toEqual([]);
      await expectRecordsMatchProcesses(w);
      // The calls cut by the outage, retried: each gets its instance (the first one, if stored).
      const retried = await Promise.all(reqs.map((r) => call(svc.url, r)));
      expect(retried.map((r) => r.instance?.state)).toEqual(reqs.map(() => InstanceState.READY));
      for (const [i, c] of cut.entries()) {
        if (c.instance) expect(retried[i]?.instance?.id).toBe(c.instance.id);
      }
      expect(w.processes()).toHaveLength(reqs.length);
      await expectRecordsMatchProcesses(w);
    } finally {
      await db.start();
      await w.cleanup();
    }
  }, 180_000);

  it("keeps starting instances through a Redis outage, answering OK or UNAVAILABLE, never a deadline", async (ctx) => {
    if (skip(ctx)) return;
    let redis: RealServer;
    try {
      redis = await startRedis();
    } catch (e) {
      if (!(e instanceof MissingToolError)) throw e;
      e.report(ctx.task.name);
      ctx.skip();
      return;
    }
    const w = world({ REDIS_URL: redis.url });
    try {
      const svc = await w.start();
      const reqs = await requests(6);
      const burst = reqs.map((r) => call(svc.url, r));
      await spawned(w);
      await redis.stop();
      const down = Date.now();
      expect(
        await until(
          async () => (await fetch(`${svc.url}/readyz`)).status,
          (s) => s === 503,
          8_000,
        ),
      ).toBe(503);
      // Records live in FerretDB: a start needs Redis only for its events, which are best effort.
      const during = await Promise.all((await requests(2)).map((r) => call(svc.url, r)));
      const ok = (c: { error?: ConnectError }) =>
        c.error === undefined || c.error.code === Code.Unavailable ? "ok" : c.error.message;
      expect(during.map(ok)).toEqual(["ok", "ok"]);
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - down))));
      await redis.start();
      expect((await Promise.all(burst)).map(ok)).toEqual(reqs.map(() => "ok"));
      expect(
        await until(
          async () => (await fetch(`${svc.url}/readyz`)).status,
          (s) => s === 200,
        ),
      ).toBe(200);
      const retried = await Promise.all(reqs.map((r) => call(svc.url, r)));
      expect(retried.map((r) => r.instance?.state)).toEqual(reqs.map(() => InstanceState.READY));
      await expectRecordsMatchProcesses(w);
    } finally {
      await w.cleanup();
      await redis.close();
    }
  }, 180_000);

  it("answers in-flight calls UNAVAILABLE at SIGTERM and stops every xrdp it started (XRDP_STOP_ON_SHUTDOWN=true)", async (ctx) => {
    if (skip(ctx)) return;
    const w = world({ XRDP_STOP_ON_SHUTDOWN: "true" });
    try {
      const svc = await w.start();
      const reqs = await requests(8);
      const burst = reqs.map((r) => call(svc.url, r));
      await spawned(w);
      const sent = Date.now();
      sigterm(svc);
      expect(await svc.exited).toBe(0);
      const results = await Promise.all(burst);
      const late = results.filter((r) => r.at >= sent);
      expect(late.map((r) => r.error?.code)).toEqual(late.map(() => Code.Unavailable));
      expect(w.processes()).toEqual([]);
      const rs = await w.records();
      expect(rs.filter((r) => r.state !== "STOPPED" && r.state !== "FAILED")).toEqual([]);
    } finally {
      await w.cleanup();
    }
  }, 180_000);

  it("leaves the instances to the next life at SIGTERM (XRDP_STOP_ON_SHUTDOWN=false), which adopts them", async (ctx) => {
    if (skip(ctx)) return;
    const w = world();
    try {
      const first = await w.start();
      const reqs = await requests(8);
      const burst = reqs.map((r) => call(first.url, r));
      await spawned(w);
      sigterm(first);
      expect(await first.exited).toBe(0);
      await Promise.all(burst);
      const before = w.processes().map((p) => p.pid);
      expect(before.length).toBeGreaterThan(0);
      const second = await w.start();
      const retried = await Promise.all(reqs.map((r) => call(second.url, r)));
      expect(retried.map((r) => r.instance?.state)).toEqual(reqs.map(() => InstanceState.READY));
      const pids = retried.map((r) => r.instance?.pid);
      for (const pid of before) expect(pids).toContain(pid); // adopted, not started again
      expect(w.processes()).toHaveLength(reqs.length);
      await expectRecordsMatchProcesses(w);
    } finally {
      await w.cleanup();
    }
  }, 180_000);
});
