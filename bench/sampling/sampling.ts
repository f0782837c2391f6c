/**
 * Benchmark 4, sampling cost: the CPU time resource-monitor's real /proc process sampler
 * (services/resource-monitor/src/sampling/process-sampler.ts) spends per 1 Hz tick on N = 100 and
 * N = 500 live processes, against the npm package pidusage sampling the same pids.
 *
 * The processes are `sleep` children of this run. Each sampler runs in a process of its own
 * (bench/sampling/sampler-worker.ts) and measures itself with process.cpuUsage around each tick;
 * the four samplers (2 implementations x 2 sizes) run at once, which costs nothing in accuracy
 * (CPU time, not wall time, is measured) and saves minutes. The first tick of each is a warm-up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot, run, sleep } from "../lib/proc.js";
import type { BenchmarkOutput, Metric } from "../lib/report.js";
import { median } from "../lib/stats.js";

const sizes = [100, 500] as const;

interface WorkerResult {
  impl: "ours" | "pidusage";
  n: number;
  cpuUs: number[];
  wallUs: number[];
  sampled: number[];
}

export async function runSampling(opts: { quick: boolean }): Promise<BenchmarkOutput> {
  const ticks = (opts.quick ? 4 : 30) + 1;
  const sleepers = await spawnSleepers(Math.max(...sizes));
  try {
    const pids = sleepers.map((s) => s.pid as number);
    const jobs = sizes.flatMap((n) =>
      (["ours", "pidusage"] as const).map(async (impl) => {
        const out = await run(
          process.execPath,
          [
            "--import",
            "tsx",
            join(repoRoot, "bench/sampling/sampler-worker.ts"),
            impl,
            String(ticks),
            pids.slice(0, n).join(","),
          ],
          { timeoutMs: ticks * 1000 + 60_000 },
        );
        return JSON.parse(out.trim().split("\n").pop() ?? "{}") as WorkerResult;
      }),
    );
    const results = await Promise.all(jobs);
    for (const r of results) {
      const short = r.sampled.filter((s) => s !== r.n);
      if (short.length > 0) {
        throw new Error(`${r.impl} sampled ${short.join(", ")} of ${r.n} processes in some ticks`);
      }
    }
    const msPerTick = (impl: string, n: number) => {
      const r = results.find((x) => x.impl === impl && x.n === n) as WorkerResult;
      return median(r.cpuUs.slice(1)) / 1000;
    };
    const metrics: Metric[] = sizes.map((n) => ({
      name: `CPU time per 1 Hz sample of N=${n} processes`,
      unit: "ms",
      better: "lower",
      ours: msPerTick("ours", n),
      baseline: msPerTick("pidusage", n),
      headline: n === 500,
    }));
    return {
      metrics,
      details: {
        ticks: ticks - 1,
        warmupTicks: 1,
        results: results.map((r) => ({
          ...r,
          medianCpuMs: median(r.cpuUs.slice(1)) / 1000,
          medianWallMs: median(r.wallUs.slice(1)) / 1000,
        })),
      },
      notes: [
        `Ours: ProcessSampler.sample(pids) of resource-monitor (synchronous reads of /proc/<pid>/stat, a listing of /proc/<pid>/fd and /proc/<pid>/io per pid). Baseline: pidusage(pids) (asynchronous reads of /proc/<pid>/stat only, file descriptors kept open between calls). Ours reads three files per pid and reports open files and I/O as well; pidusage reports CPU and memory only.`,
        `Median over ${ticks - 1} ticks at 1 Hz of process.cpuUsage() (user + system, all threads) around each sample, each sampler in its own process; N live \`sleep\` processes.`,
      ],
    };
  } finally {
    for (const s of sleepers) s.kill("SIGKILL");
  }
}

/** Starts `n` `sleep 3600` processes; killed by the caller, or by this process's exit. */
async function spawnSleepers(n: number): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const c of children) c.kill("SIGKILL");
  };
  process.once("exit", killAll);
  for (let i = 0; i < n; i++) {
    children.push(spawn("sleep", ["3600"], { stdio: "ignore" }));
  }
  // Every pid must exist before sampling starts (a spawn is asynchronous).
  const deadline = Date.now() + 30_000;
  while (children.some((c) => c.pid === undefined || c.exitCode !== null)) {
    if (Date.now() > deadline) {
      killAll();
      throw new Error("could not start the sleeper processes");
    }
    await sleep(20);
  }
  return children;
}
