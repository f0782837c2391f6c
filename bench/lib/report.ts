/**
 * What a benchmark reports, and how a run is printed and written: one line per metric
 * ("metric, ours, baseline, ratio"), a table, bench/results/<date>.json and <date>.md.
 *
 * Every ratio is ours / baseline, whatever the metric; `better` says which way is good, so a
 * throughput ratio of 0.5 and a latency ratio of 2.0 both mean "half as good".
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./proc.js";

export interface Metric {
  /** What is measured, e.g. "gRPC GetSession throughput". */
  readonly name: string;
  /** "req/s", "ms", "MiB", "CPU ms per tick", ... */
  readonly unit: string;
  readonly better: "higher" | "lower";
  readonly ours: number;
  readonly baseline: number;
  /** The benchmark's one headline figure (exactly one per benchmark). */
  readonly headline?: boolean;
}

export interface BenchmarkResult {
  /** Short id, e.g. "unary-rpc". */
  readonly id: string;
  readonly title: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly seconds: number;
  readonly metrics: readonly Metric[];
  /** Setup and raw figures behind the metrics (load parameters, per-run values, pinning). */
  readonly details: Record<string, unknown>;
  /** One or two sentences for the markdown summary: what ours and baseline were. */
  readonly notes?: readonly string[];
}

/** What a benchmark function returns; run.ts adds the id, title, timing and the error. */
export interface BenchmarkOutput {
  readonly metrics: Metric[];
  readonly details: Record<string, unknown>;
  readonly notes?: string[];
}

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly kernel: string;
  readonly memoryGiB: number;
  /** 1-minute load average when the run started: other work on a shared machine shows here. */
  readonly loadAverage1m: number;
  /** Whether servers and load generators were pinned to different cores with taskset. */
  readonly pinned: boolean;
}

export interface RunReport {
  readonly date: string;
  readonly startedAt: string;
  readonly mode: "full" | "quick";
  readonly machine: Machine;
  readonly git: { readonly revision: string; readonly dirty: boolean };
  readonly seconds: number;
  readonly benchmarks: readonly BenchmarkResult[];
}

export function ratioOf(m: Metric): number {
  return m.baseline === 0 ? Number.NaN : m.ours / m.baseline;
}

export function machineInfo(pinned: boolean): Machine {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    kernel: release(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    pinned,
  };
}

export function gitInfo(): { revision: string; dirty: boolean } {
  const git = (args: string[]) =>
    execFileSync("git", args, {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  try {
    const revision = git(["rev-parse", "HEAD"]).trim();
    const dirty = git(["status", "--porcelain", "--untracked-files=no"]).trim() !== "";
    return { revision, dirty };
  } catch {
    return { revision: "unknown", dirty: false };
  }
}

/** A number for people: 3 significant digits, thousands grouped, no exponent. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : "n/a";
}

/** The line every metric prints: "metric, ours, baseline, ratio". */
export function metricLine(benchmark: string, m: Metric): string {
  return `${benchmark}: ${m.name} (${m.unit}, ${m.better} is better), ${fmt(m.ours)}, ${fmt(m.baseline)}, ${fmtRatio(ratioOf(m))}`;
}

interface Row {
  readonly cells: readonly string[];
}

function rows(report: RunReport): Row[] {
  const out: Row[] = [];
  for (const b of report.benchmarks) {
    if (!b.ok) {
      out.push({ cells: [b.id, `FAILED: ${firstLine(b.error ?? "")}`, "", "", "", "", ""] });
      continue;
    }
    for (const m of b.metrics) {
      out.push({
        cells: [
          b.id,
          `${m.headline ? "* " : ""}${m.name}`,
          m.unit,
          fmt(m.ours),
          fmt(m.baseline),
          fmtRatio(ratioOf(m)),
          m.better,
        ],
      });
    }
  }
  return out;
}

const header = ["benchmark", "metric", "unit", "ours", "baseline", "ours/baseline", "better"];

/** The terminal table: aligned columns, headline metrics marked with "*". */
export function terminalTable(report: RunReport): string {
  const all = [header, ...rows(report).map((r) => r.cells)];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const numeric = new Set([3, 4, 5]);
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...all.slice(1).map(line)].join("\n");
}

export function markdownSummary(report: RunReport): string {
  const m = report.machine;
  const lines = [
    `# Benchmarks, ${report.date} (${report.mode})`,
    "",
    `- Machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`,
    `- Load average (1 min) at start: ${m.loadAverage1m}; servers and load generators ${m.pinned ? "pinned to different cores (taskset)" : "NOT pinned (taskset missing or one core)"}`,
    `- Git revision: ${report.git.revision}${report.git.dirty ? " (with uncommitted changes)" : ""}`,
    `- Started ${report.startedAt}, took ${Math.round(report.seconds)} s`,
    "",
    "Every ratio is ours / baseline, measured side by side in this run. `*` marks each benchmark's headline.",
    "",
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i >= 3 && i <= 5 ? "---:" : "---")).join(" | ")} |`,
    ...rows(report).map((r) => `| ${r.cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`),
    "",
  ];
  for (const b of report.benchmarks) {
    if (!b.ok) {
      lines.push(`## ${b.title}: FAILED`, "", "```", b.error ?? "", "```", "");
      continue;
    }
    if (b.notes === undefined || b.notes.length === 0) continue;
    lines.push(`## ${b.title}`, "", ...b.notes.map((n) => `- ${n}`), "");
  }
  return lines.join("\n");
}

/** Writes <dir>/<date>.json and <dir>/<date>.md; returns their paths. */
export function writeReport(report: RunReport, dir: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${report.date}.json`);
  const md = join(dir, `${report.date}.md`);
  writeFileSync(json, `${JSON.stringify(report, numberReplacer, 2)}\n`);
  writeFileSync(md, markdownSummary(report));
  return { json, md };
}

/** Rounds floats for the JSON file (NaN becomes null, as JSON has no NaN). */
function numberReplacer(_key: string, value: unknown): unknown {
  if (typeof value !== "number") return value;
  if (!Number.isFinite(value)) return null;
  return Number.isInteger(value) ? value : Math.round(value * 1000) / 1000;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? "";
}
