/**
 * Benchmark 3, port allocation: allocations per second by 4 concurrent allocators running
 * server-manager's real port step, RedisPortLeases.allocate (bench/ports/allocators.ts), against
 * redis-benchmark sending SET key NX with random keys over 4 connections, unpipelined: the
 * throughput of the one-command claim a port lease could at best be, on the same redis-server.
 *
 * redis-server (with the arguments of @lucid-rdp/testing's redisServerArgs: loopback, no
 * persistence) is pinned to core 0; allocators and redis-benchmark to core 1. The run fails when
 * any port was granted twice or Redis disagrees with the grants.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { redisServerArgs } from "@lucid-rdp/testing";
import { freePort, type Launched, launch, repoRoot, requireTool, run, sleep } from "../lib/proc.js";
import { type BenchmarkOutput, fmt, fmtRatio } from "../lib/report.js";
import { mean } from "../lib/stats.js";

const redisCpu = 0;
const clientCpu = 1;
const allocators = 4;

interface AllocatorsResult {
  allocations: number;
  elapsedMs: number;
  perSecond: number;
  /** Allocations that found the node full (each allocator's last one on every node). */
  exhausted: number;
  nodesFilled: number;
  doubleAllocations: number;
  mismatches: number;
  /** Plain SET NX/s from the same Node connections: a reference, not the baseline. */
  nodeSetNxPerSecond: number;
}

export async function runPortAllocation(opts: { quick: boolean }): Promise<BenchmarkOutput> {
  const redisServer = requireTool("redis-server", "apt-get install -y redis-server");
  const redisBenchmark = requireTool("redis-benchmark", "apt-get install -y redis-tools");
  const rounds = opts.quick ? 1 : 3;
  const durationMs = opts.quick ? 2_000 : 5_000;
  const setRequests = opts.quick ? 20_000 : 100_000;

  const dir = await mkdtemp(join(tmpdir(), "lucid-bench-redis-"));
  let redis: Launched | undefined;
  try {
    const port = await freePort();
    redis = launch(redisServer, redisServerArgs(port, dir), { cpu: redisCpu, cwd: dir });
    await waitForPong(port, redis);
    const url = `redis://127.0.0.1:${port}`;

    const ours: AllocatorsResult[] = [];
    const base: number[] = [];
    // Alternating rounds, so that drift on a shared machine hits both sides.
    for (let r = 0; r < rounds; r++) {
      const out = await run(
        process.execPath,
        [
          "--import",
          "tsx",
          join(repoRoot, "bench/ports/allocators.ts"),
          url,
          String(allocators),
          String(durationMs),
        ],
        { cpu: clientCpu, timeoutMs: durationMs + 60_000 },
      );
      const result = JSON.parse(out.trim().split("\n").pop() ?? "{}") as AllocatorsResult;
      if (result.doubleAllocations !== 0 || result.mismatches !== 0) {
        throw new Error(
          `port leases broke exclusivity: ${result.doubleAllocations} double allocation(s), ${result.mismatches} mismatch(es) between grants and Redis`,
        );
      }
      if (!(result.allocations > 0)) throw new Error(`no allocation: ${out}`);
      ours.push(result);
      base.push(await setNx(redisBenchmark, port, setRequests));
    }
    const oursRate = mean(ours.map((r) => r.perSecond));
    const baseRate = mean(base);
    const nodeSetNx = mean(ours.map((r) => r.nodeSetNxPerSecond));
    const allocations = sum(ours.map((r) => r.allocations));
    const nodesFilled = sum(ours.map((r) => r.nodesFilled));
    return {
      metrics: [
        {
          name: `port allocations/s, ${allocators} concurrent allocators (SET NX/s for redis-benchmark)`,
          unit: "ops/s",
          better: "higher",
          ours: oursRate,
          baseline: baseRate,
          headline: true,
        },
      ],
      details: {
        allocators,
        rounds,
        durationMs,
        setRequests,
        redisCpu,
        clientCpu,
        ours,
        baselineSetNxPerSecond: base,
        doubleAllocations: 0,
        reference: { nodeSetNxPerSecond: nodeSetNx, ratioToRedisBenchmark: nodeSetNx / baseRate },
      },
      notes: [
        `Ours: ${allocators} allocators, each with its own Redis connection, run server-manager's port step: one RedisPortLeases.allocate per allocation (a Lua script that scans the node's range from a random offset for the first unclaimed port and claims it in the same step), all filling the same node's 100 ports at once, then the next node. ${allocations} allocations over ${nodesFilled} nodes filled, no lost race (there is none to lose), zero double allocations (checked against every grant and against Redis).`,
        `Baseline: redis-benchmark -c ${allocators} SET key:__rand_int__ NX, unpipelined, on the same redis-server. An allocation is one round trip like SET NX, but runs a script that reads one hash field per claimed port it passes over (more as the node fills) before it writes one, so 1x is the ceiling.`,
        `Reference point: the same 4 ioredis connections sending plain SET NX (one round trip, no script) managed ${fmt(nodeSetNx)}/s, ${fmtRatio(nodeSetNx / baseRate)} of redis-benchmark; the port step reached ${fmtRatio(oursRate / nodeSetNx)} of that.`,
      ],
    };
  } finally {
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** redis-benchmark SET NX over `allocators` connections; requests per second. */
async function setNx(redisBenchmark: string, port: number, requests: number): Promise<number> {
  const csv = await run(
    redisBenchmark,
    [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-c",
      String(allocators),
      "-n",
      String(requests),
      "-r",
      "1000000",
      "--csv",
      "SET",
      "bench:nx:__rand_int__",
      "owner",
      "NX",
    ],
    { cpu: clientCpu, timeoutMs: 120_000 },
  );
  // "test","rps",...  then  "SET bench:nx:__rand_int__ owner NX","43478.26",...
  const row = csv
    .trim()
    .split("\n")
    .find((l) => l.startsWith('"SET'));
  const rps = Number(row?.split(",")[1]?.replaceAll('"', ""));
  if (!(rps > 0)) throw new Error(`could not read redis-benchmark's output:\n${csv}`);
  return rps;
}

/** Resolves once redis-server answers PING with PONG; fails early when it exits. */
async function waitForPong(port: number, redis: Launched): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1_000, () => done(false));
      s.once("error", () => done(false));
      s.once("connect", () => s.write("PING\r\n"));
      s.on("data", (d: Buffer) => done(d.toString().startsWith("+PONG")));
    });
    if (ok) return;
    if (!redis.alive()) throw new Error(`redis-server exited:\n${redis.stderr()}`);
    if (Date.now() > deadline) throw new Error("redis-server did not answer PING in 20 s");
    await sleep(25);
  }
}
