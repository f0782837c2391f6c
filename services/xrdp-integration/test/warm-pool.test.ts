/**
 * The warm pool (WARM_POOL_SIZE) on real xrdp, with xrdp-integration as a real process: a pool of
 * N survives 3N concurrent StartInstance calls without handing any instance out twice, refills,
 * and answers retries with the instance handed out; a kill -9 in the middle of hand-outs leaves no
 * instance assigned to two servers and none lost (records in FerretDB, as in production).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectError } from "@connectrpc/connect";
import { type Instance, InstanceState, XrdpIntegrationService } from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import {
  type ChildServer,
  findTool,
  type RealServer,
  repoRoot,
  skipOrFail,
  spawnService,
} from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";
import { instancePaths } from "../src/domain/instance-paths.js";
import { findOurProcesses } from "../src/supervisor/our-processes.js";
import { mongoWireForFile } from "./support/mongo-wire.js";
import { until } from "./support/until.js";

const main = `${repoRoot}services/xrdp-integration/src/main.ts`;
const xrdp = findTool("xrdp", "apt-get install -y xrdp"); // throws under CI=true when missing

const ferret = mongoWireForFile();
const { running } = ferret;

/** A service's state directory and env, with a pool of `size`, and how to start it. */
function world(size: number, over: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "xrdp-pool-"));
  // Below 59100: 59100-59299 is where xrdp-sesman probes for X displays, and the node refuses a
  // port range there (it drew 59200 once in CI).
  const base = 20_000 + Math.floor(Math.random() * 390) * 100;
  const env = {
    PORT: "0",
    LOG_LEVEL: "info",
    NODE_ID: "pool",
    XRDP_STATE_DIR: dir,
    XRDP_SESMAN: "off",
    XRDP_BIN: xrdp ?? "/usr/sbin/xrdp",
    XRDP_MAX_INSTANCES: "64",
    XRDP_HEALTH_INTERVAL_MS: "1000",
    XRDP_STOP_ON_SHUTDOWN: "true",
    RDP_DOOR: "on",
    WARM_POOL_SIZE: String(size),
    NODE_PORT_RANGE: `${base}-${base + 99}`,
    ...over,
  };
  const services: ChildServer[] = [];
  const start = async () => {
    const svc = await spawnService(main, env);
    running.push(svc);
    services.push(svc);
    await until(
      async () => (await fetch(`${svc.url}/readyz`)).status,
      (s) => s === 200,
    );
    return svc;
  };
  const processes = () => findOurProcesses(dir).filter((p) => p.kind === "xrdp");
  /** The services first (a live one would restart the instances killed under it), then xrdp. */
  const cleanup = async () => {
    for (const svc of services) svc.kill("SIGKILL");
    await Promise.all(services.map((svc) => svc.exited));
    for (const p of findOurProcesses(dir)) process.kill(-p.pid, "SIGKILL");
  };
  return { dir, env, start, processes, cleanup };
}

const clientOf = (svc: ChildServer) =>
  createNodeClient(XrdpIntegrationService, { baseUrl: svc.url });

/** Waits until the node reports `ready` warm instances READY. */
function warmReady(svc: ChildServer, ready: number) {
  return until(
    async () => (await clientOf(svc).getHostInfo({})).hostInfo,
    (h) => (h?.warmPoolReady ?? 0) >= ready && h?.warmPoolStarting === 0,
    60_000,
  );
}

/** Every live instance the node lists. */
async function liveInstances(svc: ChildServer): Promise<Instance[]> {
  const res = await clientOf(svc).listInstances({
    pageSize: 1000,
    states: [InstanceState.STARTING, InstanceState.READY, InstanceState.RESTARTING],
  });
  return res.instances;
}

interface Ask {
  readonly requestId: string;
  readonly serverId: string;
  readonly owner: string;
  readonly port: 0;
  readonly waitTimeout: { seconds: bigint };
}

const asks = (n: number): Ask[] =>
  Array.from({ length: n }, () => ({
    requestId: randomUUID(),
    serverId: randomUUID(),
    owner: "lucidtest",
    port: 0,
    waitTimeout: { seconds: 30n },
  }));

function start(svc: ChildServer, ask: Ask) {
  return clientOf(svc)
    .startInstance(ask, { timeoutMs: 60_000 })
    .then(
      (r) => ({ instance: r.instance, error: undefined }),
      (e: unknown) => ({ instance: undefined, error: ConnectError.from(e) }),
    );
}

describe("the warm pool", () => {
  it("hands a pool of N out to 3N concurrent creates, never one twice, then refills", async (ctx) => {
    if (xrdp === undefined) skipOrFail(ctx, "xrdp is missing");
    const n = 3;
    const w = world(n);
    try {
      const svc = await w.start();
      await warmReady(svc, n);
      const warm = (await liveInstances(svc)).filter((i) => i.warm);
      expect(warm).toHaveLength(n);
      for (const i of warm) {
        expect(i.serverId).toBe("");
        expect(i.owner).toBe("");
        // A warm instance admits no one: its xrdp.ini has no session section.
        const ini = readFileSync(instancePaths(w.dir, i.id).xrdpIni, "utf8");
        expect(ini).not.toMatch(/^username=/m);
      }
      const warmIds = new Set(warm.map((i) => i.id));

      const batch = asks(3 * n);
      const answers = await Promise.all(batch.map((a) => start(svc, a)));
      for (const a of answers) expect(a.error, String(a.error)).toBeUndefined();
      const got = answers.map((a) => a.instance as Instance);
      for (const [k, i] of got.entries()) {
        expect(i.state).toBe(InstanceState.READY);
        expect(i.serverId).toBe(batch[k]?.serverId);
        expect(i.owner).toBe("lucidtest");
        expect(i.warm).toBe(false);
        expect(i.routingToken).toMatch(/^lr1-[A-Za-z0-9_-]{32}$/);
        // The hand-out rewrote the config: the owner, and only the owner, may log in now.
        const ini = readFileSync(instancePaths(w.dir, i.id).xrdpIni, "utf8");
        expect(ini).toMatch(/^username=lucidtest$/m);
      }
      // 3N distinct instances, ports and tokens: none given twice.
      expect(new Set(got.map((i) => i.id)).size).toBe(3 * n);
      expect(new Set(got.map((i) => i.port)).size).toBe(3 * n);
      expect(new Set(got.map((i) => i.routingToken)).size).toBe(3 * n);
      // The pool served what it held; the rest were started cold.
      const handedOut = got.filter((i) => warmIds.has(i.id));
      expect(handedOut.length).toBeGreaterThanOrEqual(1);
      expect(handedOut.length).toBeLessThanOrEqual(n);

      // Retries get the instance they got, warm or cold, with the same token.
      const again = await Promise.all(batch.map((a) => start(svc, a)));
      for (const [k, a] of again.entries()) {
        expect(a.instance?.id).toBe(got[k]?.id);
        expect(a.instance?.routingToken).toBe(got[k]?.routingToken);
      }

      // Refilled: N warm again beside the 3N assigned, one xrdp each, every server once.
      await warmReady(svc, n);
      const live = await liveInstances(svc);
      expect(live.filter((i) => i.warm)).toHaveLength(n);
      const assigned = live.filter((i) => !i.warm);
      expect(assigned).toHaveLength(3 * n);
      expect(new Set(assigned.map((i) => i.serverId)).size).toBe(3 * n);
      expect(w.processes()).toHaveLength(4 * n);
      const host = (await clientOf(svc).getHostInfo({})).hostInfo;
      expect(host?.rdpDoorPort).toBe(Number(new URL(svc.url).port));
      expect(host?.warmPoolTarget).toBe(n);
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`^lucid_warm_pool_ready ${n}$`, "m"));
      expect(metrics).toMatch(new RegExp(`^lucid_warm_pool_target ${n}$`, "m"));
    } finally {
      await w.cleanup();
    }
  }, 180_000);

  it("leaves no instance assigned twice and none lost after kill -9 during hand-outs", async (ctx) => {
    if (ferret.missing() !== undefined || xrdp === undefined) {
      skipOrFail(ctx, ferret.missing()?.message ?? "xrdp is missing");
    }
    const n = 2;
    const db = `pool_${randomUUID().slice(0, 8)}`;
    const w = world(n, {
      MONGODB_URI: (ferret.server() as RealServer).url,
      MONGODB_DB: db,
      XRDP_STOP_ON_SHUTDOWN: "false",
    });
    try {
      const first = await w.start();
      await warmReady(first, n);
      const warmBefore = new Set(
        (await liveInstances(first)).filter((i) => i.warm).map((i) => i.id),
      );
      expect(warmBefore.size).toBe(n);

      // 2N creates at once; the service dies as the first answer arrives, with the other
      // hand-outs and the cold starts in flight.
      const batch = asks(2 * n);
      const inFlight = batch.map((a) => start(first, a));
      await Promise.race(inFlight);
      first.kill("SIGKILL");
      await first.exited;
      await Promise.all(inFlight);

      const second = await w.start();
      // Every request asked again: each gets one instance, READY.
      const answers = await Promise.all(batch.map((a) => start(second, a)));
      for (const a of answers) expect(a.error, String(a.error)).toBeUndefined();
      const got = answers.map((a) => a.instance as Instance);
      expect(new Set(got.map((i) => i.id)).size).toBe(2 * n);
      for (const [k, i] of got.entries()) {
        expect(i.state).toBe(InstanceState.READY);
        expect(i.serverId).toBe(batch[k]?.serverId);
      }

      await warmReady(second, n);
      const live = await liveInstances(second);
      // No instance serves two servers, and no server has two instances.
      const assigned = live.filter((i) => !i.warm);
      expect(new Set(assigned.map((i) => i.serverId)).size).toBe(assigned.length);
      expect(assigned.map((i) => i.id).sort()).toEqual(got.map((i) => i.id).sort());
      // None lost: each instance warm before the kill is still warm or went to one request.
      const liveIds = new Map(live.map((i) => [i.id, i]));
      for (const id of warmBefore) {
        const now = liveIds.get(id);
        expect(now, `warm instance ${id} vanished`).toBeDefined();
        if (now?.warm === false) expect(batch.map((a) => a.serverId)).toContain(now.serverId);
      }
      expect(got.filter((i) => warmBefore.has(i.id)).length).toBeGreaterThanOrEqual(1);
      // Every assigned instance admits its owner (a hand-out cut before its file is repaired).
      for (const i of assigned) {
        const ini = readFileSync(instancePaths(w.dir, i.id).xrdpIni, "utf8");
        expect(ini).toMatch(/^username=lucidtest$/m);
      }
      // One xrdp per live instance: nothing orphaned, nothing doubled.
      expect(w.processes()).toHaveLength(live.length);
      second.kill("SIGTERM");
      await second.exited;
    } finally {
      await w.cleanup();
    }
  }, 240_000);
});
