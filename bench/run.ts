/**
 * `npm run bench`: the five benchmarks of issue 10 and the front door's of issue 18, each measured side by side with its baseline
 * in the same run, so that the ratios mean something on a shared machine where absolute numbers
 * do not. Prints "metric, ours, baseline, ratio" per metric as it goes, then a table; writes
 * bench/results/<date>.json and <date>.md (with --quick or --only: bench/results/tmp/, which git
 * ignores, so CI does not dirty the tree).
 *
 *   npm run bench                 the full run (about 10 minutes)
 *   npm run bench -- --quick      a short run (under 2 minutes) that checks the harness works
 *   npm run bench -- --only=unary-rpc,sampling
 *   npm run bench -- --only=unary-rpc --profile   also writes CPU profiles of the RPC servers
 *
 * Exits 1 when any benchmark failed to produce its ratios: the quick mode in CI checks that the
 * harness works, never a threshold.
 */
import { join } from "node:path";
import { runColdStart } from "./cold-start/cold-start.js";
import { canPin, repoRoot } from "./lib/proc.js";
import {
  type BenchmarkOutput,
  type BenchmarkResult,
  gitInfo,
  machineInfo,
  metricLine,
  type RunReport,
  ratioOf,
  terminalTable,
  writeReport,
} from "./lib/report.js";
import { runPortAllocation } from "./ports/port-allocation.js";
import { runRdpDoor } from "./rdp-door/rdp-door.js";
import { runSampling } from "./sampling/sampling.js";
import { runSessionReady } from "./session-ready/session-ready.js";
import { runUnary } from "./unary/unary.js";

interface Benchmark {
  readonly id: string;
  readonly title: string;
  run(opts: { quick: boolean; profileDir?: string }): Promise<BenchmarkOutput>;
}

const benchmarks: readonly Benchmark[] = [
  { id: "unary-rpc", title: "1. Unary RPC (GetSession)", run: runUnary },
  { id: "session-ready", title: "2. Session ready", run: runSessionReady },
  { id: "port-allocation", title: "3. Port allocation", run: runPortAllocation },
  { id: "sampling", title: "4. Sampling cost", run: runSampling },
  { id: "cold-start", title: "5. Cold start and idle RSS", run: runColdStart },
  { id: "rdp-door", title: "6. RDP front door", run: runRdpDoor },
];

function parseArgs(argv: readonly string[]): {
  quick: boolean;
  profile: boolean;
  only?: Set<string>;
} {
  let quick = false;
  let profile = false;
  let only: Set<string> | undefined;
  for (const a of argv) {
    if (a === "--quick") quick = true;
    else if (a === "--profile") profile = true;
    else if (a.startsWith("--only=")) only = new Set(a.slice("--only=".length).split(","));
    else {
      process.stderr.write(
        `unknown argument ${a}; usage: npm run bench [-- --quick] [-- --profile] [-- --only=${benchmarks.map((b) => b.id).join(",")}]\n`,
      );
      process.exit(2);
    }
  }
  for (const id of only ?? []) {
    if (!benchmarks.some((b) => b.id === id)) {
      process.stderr.write(`unknown benchmark "${id}"\n`);
      process.exit(2);
    }
  }
  return { quick, profile, only };
}

/** A benchmark's output is usable when it has one headline and every ratio is a number. */
function problemsOf(out: BenchmarkOutput): string | undefined {
  const headlines = out.metrics.filter((m) => m.headline === true).length;
  if (headlines !== 1) return `${headlines} headline metrics instead of 1`;
  const bad = out.metrics.filter((m) => !Number.isFinite(ratioOf(m)) || ratioOf(m) <= 0);
  if (bad.length > 0) return `no ratio for: ${bad.map((m) => m.name).join(", ")}`;
  return undefined;
}

async function main(): Promise<number> {
  const { quick, profile, only } = parseArgs(process.argv.slice(2));
  const profileDir = profile ? join(repoRoot, "bench", "results", "tmp", "profiles") : undefined;
  // Children are SIGKILLed on exit (lib/proc.ts); Ctrl-C must go through exit for that.
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));

  const started = new Date();
  const machine = machineInfo(canPin());
  const git = gitInfo();
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(
    `bench (${quick ? "quick" : "full"}): ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAverage1m}, git ${git.revision.slice(0, 12)}${git.dirty ? "+dirty" : ""}`,
  );

  const results: BenchmarkResult[] = [];
  for (const b of benchmarks) {
    if (only !== undefined && !only.has(b.id)) continue;
    out(`\n== ${b.title}`);
    const t0 = performance.now();
    let result: BenchmarkResult;
    try {
      const o = await b.run({ quick, profileDir });
      const problem = problemsOf(o);
      if (problem !== undefined) throw new Error(problem);
      result = {
        id: b.id,
        title: b.title,
        ok: true,
        seconds: (performance.now() - t0) / 1000,
        ...o,
      };
      for (const m of o.metrics) out(metricLine(b.id, m));
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      result = {
        id: b.id,
        title: b.title,
        ok: false,
        error,
        seconds: (performance.now() - t0) / 1000,
        metrics: [],
        details: {},
      };
      out(`${b.id}: FAILED\n${error}`);
    }
    out(`(${b.id}: ${result.seconds.toFixed(1)} s)`);
    results.push(result);
  }

  const report: RunReport = {
    date: started.toISOString().slice(0, 10),
    startedAt: started.toISOString(),
    mode: quick ? "quick" : "full",
    machine,
    git,
    seconds: (Date.now() - started.getTime()) / 1000,
    benchmarks: results,
  };
  out(`\n${terminalTable(report)}`);
  // Partial, quick or profiled runs never overwrite the committed results.
  const dir = join(
    repoRoot,
    "bench",
    "results",
    quick || profile || only !== undefined ? "tmp" : "",
  );
  const files = writeReport(report, dir);
  out(`\nwrote ${files.json}\n      ${files.md}`);
  if (profileDir !== undefined) out(`      ${profileDir}/*.cpuprofile (unary-rpc's servers)`);

  const failed = results.filter((r) => !r.ok).map((r) => r.id);
  if (failed.length > 0) {
    out(`\nFAILED: ${failed.join(", ")}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
