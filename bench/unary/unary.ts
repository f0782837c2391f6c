/**
 * Benchmark 1, unary RPC: GetSession on the in-memory store.
 *
 * - gRPC (h2c): ours (packages/runtime startServer, bench/unary/ours-server.ts) against a bare
 *   @grpc/grpc-js server with the same handler and messages (baseline-server.ts grpc). Load: ghz,
 *   which reads grpc-status from the trailers of every call, so a call that failed with HTTP 200 is
 *   counted as failed; any non-OK status fails the benchmark.
 * - Connect JSON over HTTP/1.1: the same ours process (one port serves every protocol) against a
 *   bare node:http server answering the same POST (baseline-server.ts http1). Load: h2load --h1,
 *   one request in flight per connection; Connect unary reports errors as HTTP statuses, so every
 *   logged status must be 200, and one response body is checked to hold the session.
 *
 * Servers are pinned to core 0, the load generators to core 1. Every server gets a warm-up run
 * before it is measured, and the measured runs alternate ours/baseline so that drift on a shared
 * machine hits both.
 */
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { SessionControllerService } from "@lucid-rdp/gen";
import {
  freePort,
  type Launched,
  launchTs,
  repoRoot,
  requireTool,
  run,
  sleep,
  waitForPort,
} from "../lib/proc.js";
import { type BenchmarkOutput, fmt, fmtRatio, type Metric } from "../lib/report.js";
import { mean, percentile } from "../lib/stats.js";

const serverCpu = 0;
const loadCpu = 1;
const method = `${SessionControllerService.typeName}/${SessionControllerService.method.getSession.name}`;

export interface UnaryOptions {
  readonly quick: boolean;
  /**
   * Where to write `node --cpu-prof` profiles of ours and of the stock connect-node reference
   * (one .cpuprofile each, written when they stop); none when undefined.
   */
  readonly profileDir?: string;
}

/** One measured load run. */
interface LoadResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly calls: number;
  /** The server's CPU time (user + system) per completed call, in microseconds. */
  readonly cpuUsPerCall: number;
}

export async function runUnary(opts: UnaryOptions): Promise<BenchmarkOutput> {
  const ghz = requireTool(
    "ghz",
    "GOBIN=$PWD/.tools/bin go install github.com/bojand/ghz/cmd/ghz@v0.121.0",
  );
  const h2load = requireTool("h2load", "apt-get install -y nghttp2-client");
  const load = {
    concurrency: 32,
    warmupS: opts.quick ? 1 : 3,
    durationS: opts.quick ? 2 : 8,
    rounds: opts.quick ? 1 : 3,
  };
  const dir = await mkdtemp(join(tmpdir(), "lucid-bench-unary-"));
  const servers: Launched[] = [];
  try {
    const protoset = join(dir, "session_controller.protoset");
    await writeFile(protoset, protosetOf(SessionControllerService.file));

    const start = async (
      file: string,
      args: string[],
      env: NodeJS.ProcessEnv,
      profileAs?: string,
    ) => {
      const port = await freePort();
      const nodeArgs =
        opts.profileDir !== undefined && profileAs !== undefined
          ? ["--cpu-prof", `--cpu-prof-dir=${join(opts.profileDir, profileAs)}`]
          : [];
      const child = launchTs(file, [...args, String(port)], {
        nodeArgs,
        cpu: serverCpu,
        env: { ...process.env, ...env, PORT: String(port) },
        // ours logs one JSON line per call, as in production; /dev/null takes them.
        stdout: "ignore",
      });
      servers.push(child);
      await waitForPort(port, child, 60_000);
      const sessionId = await readyLine(child);
      return { port, sessionId, child };
    };
    const ours = await start(
      join(repoRoot, "bench/unary/ours-server.ts"),
      [],
      { HOST: "127.0.0.1", LOG_LEVEL: "info" },
      "ours",
    );
    const baseline = join(repoRoot, "bench/unary/baseline-server.ts");
    const grpcBase = await start(baseline, ["grpc"], {});
    const h1Base = await start(baseline, ["http1"], {});
    const connectRef = await start(baseline, ["connect"], {}, "stock-connect-node");

    type Server = { port: number; sessionId: string; child: Launched };
    const measured = async (s: Server, go: () => Promise<Omit<LoadResult, "cpuUsPerCall">>) => {
      const before = await cpuTicks(s.child.pid);
      const r = await go();
      const ticks = (await cpuTicks(s.child.pid)) - before;
      return { ...r, cpuUsPerCall: (ticks * 1e6) / clockTicksPerSecond / r.calls };
    };
    const ghzRun = (s: Server, seconds: number) =>
      measured(s, () => runGhz(ghz, protoset, s.port, s.sessionId, seconds, load.concurrency));
    const h1Run = (s: Server, seconds: number) =>
      measured(s, () => runH2load(h2load, dir, s.port, s.sessionId, seconds, load.concurrency));

    await checkConnectJson(ours.port, ours.sessionId);
    await checkConnectJson(h1Base.port, h1Base.sessionId);

    // Warm-up: JIT, connection pools, the first allocations; thrown away.
    for (const s of [ours, grpcBase, connectRef]) await ghzRun(s, load.warmupS);
    for (const s of [ours, h1Base]) await h1Run(s, load.warmupS);

    const runs = {
      oursGrpc: [] as LoadResult[],
      baseGrpc: [] as LoadResult[],
      connectGrpc: [] as LoadResult[],
    };
    const h1 = { ours: [] as LoadResult[], base: [] as LoadResult[] };
    for (let r = 0; r < load.rounds; r++) {
      runs.oursGrpc.push(await ghzRun(ours, load.durationS));
      runs.baseGrpc.push(await ghzRun(grpcBase, load.durationS));
      runs.connectGrpc.push(await ghzRun(connectRef, load.durationS));
      h1.ours.push(await h1Run(ours, load.durationS));
      h1.base.push(await h1Run(h1Base, load.durationS));
    }
    for (const s of servers) {
      if (!s.alive()) throw new Error(`a server died during the run\n${s.stderr()}`);
    }

    const avg = (rs: LoadResult[], k: keyof LoadResult) => mean(rs.map((x) => x[k]));
    const metrics: Metric[] = [
      {
        name: "gRPC GetSession throughput",
        unit: "req/s",
        better: "higher",
        ours: avg(runs.oursGrpc, "rps"),
        baseline: avg(runs.baseGrpc, "rps"),
        headline: true,
      },
      {
        name: "gRPC GetSession p50 latency",
        unit: "ms",
        better: "lower",
        ours: avg(runs.oursGrpc, "p50Ms"),
        baseline: avg(runs.baseGrpc, "p50Ms"),
      },
      {
        name: "gRPC GetSession p99 latency",
        unit: "ms",
        better: "lower",
        ours: avg(runs.oursGrpc, "p99Ms"),
        baseline: avg(runs.baseGrpc, "p99Ms"),
      },
      {
        name: "gRPC GetSession server CPU per call",
        unit: "us",
        better: "lower",
        ours: avg(runs.oursGrpc, "cpuUsPerCall"),
        baseline: avg(runs.baseGrpc, "cpuUsPerCall"),
      },
      {
        name: "Connect JSON HTTP/1.1 GetSession throughput",
        unit: "req/s",
        better: "higher",
        ours: avg(h1.ours, "rps"),
        baseline: avg(h1.base, "rps"),
      },
      {
        name: "Connect JSON HTTP/1.1 GetSession p50 latency",
        unit: "ms",
        better: "lower",
        ours: avg(h1.ours, "p50Ms"),
        baseline: avg(h1.base, "p50Ms"),
      },
      {
        name: "Connect JSON HTTP/1.1 GetSession p99 latency",
        unit: "ms",
        better: "lower",
        ours: avg(h1.ours, "p99Ms"),
        baseline: avg(h1.base, "p99Ms"),
      },
      {
        name: "Connect JSON HTTP/1.1 GetSession server CPU per call",
        unit: "us",
        better: "lower",
        ours: avg(h1.ours, "cpuUsPerCall"),
        baseline: avg(h1.base, "cpuUsPerCall"),
      },
    ];
    const connectRps = avg(runs.connectGrpc, "rps");
    const connectCpu = avg(runs.connectGrpc, "cpuUsPerCall");
    const baseRps = avg(runs.baseGrpc, "rps");
    const baseCpu = avg(runs.baseGrpc, "cpuUsPerCall");
    return {
      metrics,
      details: {
        load: { ...load, serverCpu, loadCpu, ghzConnections: 1, h2loadInFlightPerConnection: 1 },
        runs: { grpc: runs, connectJsonHttp1: h1 },
        reference: {
          stockConnectNodeGrpc: {
            rps: connectRps,
            cpuUsPerCall: connectCpu,
            rpsRatioToGrpcJs: connectRps / baseRps,
            cpuRatioToGrpcJs: connectCpu / baseCpu,
          },
        },
      },
      notes: [
        `Ours: session-controller's GetSession handler in packages/runtime startServer (observe, validate interceptors, one JSON log line per call at LOG_LEVEL=info to /dev/null, metrics), one port for every protocol. Baselines: the same handler and protobuf-es messages in a bare @grpc/grpc-js server (gRPC) and a bare node:http server (Connect JSON).`,
        `Reference point, not a baseline: stock connect-node (connectNodeAdapter on plain node:http2, same handler, no interceptors) did ${fmt(connectRps)} req/s over gRPC, ${fmtRatio(connectRps / baseRps)} of grpc-js (CPU per call ${fmtRatio(connectCpu / baseCpu)} of grpc-js's): the part of the gap that is Connect's own, before anything the runtime adds.`,
        `Server CPU per call is the server process's user+system time (/proc/<pid>/stat) over the run divided by the calls completed: it varies less than throughput when other work shares the machine.`,
        `Load: ghz (grpc-status checked per call) and h2load --h1 (HTTP status checked per request), ${load.concurrency} calls in flight (ghz on one HTTP/2 connection; h2load over ${load.concurrency} HTTP/1.1 connections), ${load.rounds} alternating round(s) of ${load.durationS} s after a ${load.warmupS} s warm-up; server on core ${serverCpu}, load on core ${loadCpu}.`,
      ],
    };
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
    if (opts.profileDir !== undefined) await keepMainThreadProfiles(opts.profileDir);
  }
}

/**
 * tsx's loader runs in a worker thread, which writes a profile of its own next to the main
 * thread's: keep the biggest file of each server's directory (the main thread, which served the
 * calls) as <profileDir>/<server>.cpuprofile.
 */
async function keepMainThreadProfiles(profileDir: string): Promise<void> {
  for (const name of ["ours", "stock-connect-node"]) {
    const sub = join(profileDir, name);
    const files = await readdir(sub).catch(() => [] as string[]);
    const sized = await Promise.all(
      files.map(async (f) => ({ f, size: (await stat(join(sub, f))).size })),
    );
    const main = sized.sort((a, b) => b.size - a.size)[0];
    if (main !== undefined) await rename(join(sub, main.f), join(profileDir, `${name}.cpuprofile`));
    await rm(sub, { recursive: true, force: true });
  }
}

/** USER_HZ, the unit of CPU times in /proc/<pid>/stat (100 on every Linux this runs on). */
const clockTicksPerSecond = 100;

/** utime + stime of a process, in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3: state.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}

/** Waits for the "ready <session id>" line a bench server writes to stderr. */
async function readyLine(child: Launched): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = /^ready (\S+)$/m.exec(child.stderr());
    if (m?.[1] !== undefined) return m[1];
    if (!child.alive() || Date.now() > deadline) {
      throw new Error(`server ${child.pid} never said "ready"\n${child.stderr()}`);
    }
    await sleep(20);
  }
}

/** A FileDescriptorSet of `file` and everything it imports, dependencies first (for ghz). */
function protosetOf(file: DescFile): Uint8Array {
  const seen = new Set<string>();
  const ordered: FileDescriptorProto[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    for (const d of f.dependencies) visit(d);
    ordered.push(f.proto);
  };
  visit(file);
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: ordered }));
}

interface GhzReport {
  count: number;
  rps: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution: Record<string, number>;
  errorDistribution?: Record<string, number> | null;
}

async function runGhz(
  ghz: string,
  protoset: string,
  port: number,
  sessionId: string,
  seconds: number,
  concurrency: number,
): Promise<Omit<LoadResult, "cpuUsPerCall">> {
  const out = await run(
    ghz,
    [
      "--insecure",
      "--protoset",
      protoset,
      "--call",
      method,
      "-d",
      JSON.stringify({ session_id: sessionId }),
      "--concurrency",
      String(concurrency),
      "--connections",
      "1",
      "--cpus",
      "1",
      "--duration",
      `${seconds}s`,
      // A run ends when its duration is over; calls still in flight then are not counted.
      "--duration-stop",
      "ignore",
      "--format",
      "json",
      `127.0.0.1:${port}`,
    ],
    { cpu: loadCpu, timeoutMs: (seconds + 30) * 1000 },
  );
  const report = JSON.parse(out) as GhzReport;
  const statuses = Object.entries(report.statusCodeDistribution ?? {});
  const notOk = statuses.filter(([code]) => code !== "OK");
  if (notOk.length > 0 || report.count === 0) {
    throw new Error(
      `ghz against :${port}: calls not OK: ${JSON.stringify(report.statusCodeDistribution)} ${JSON.stringify(report.errorDistribution ?? {})}`,
    );
  }
  const at = (p: number) =>
    (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? Number.NaN) / 1e6;
  return { rps: report.rps, p50Ms: at(50), p99Ms: at(99), calls: report.count };
}

async function runH2load(
  h2load: string,
  dir: string,
  port: number,
  sessionId: string,
  seconds: number,
  clients: number,
): Promise<Omit<LoadResult, "cpuUsPerCall">> {
  const body = join(dir, `body-${port}.json`);
  const log = join(dir, `h2load-${port}-${Date.now()}.tsv`);
  await writeFile(body, JSON.stringify({ sessionId }));
  await run(
    h2load,
    [
      "--h1",
      "-c",
      String(clients),
      "-m",
      "1",
      "-D",
      String(seconds),
      "-d",
      body,
      "-H",
      "content-type: application/json",
      "--log-file",
      log,
      `http://127.0.0.1:${port}/${method}`,
    ],
    { cpu: loadCpu, timeoutMs: (seconds + 30) * 1000 },
  );
  // One line per request: start (us since the epoch), HTTP status, duration (us).
  const lines = (await readFile(log, "utf8")).split("\n").filter((l) => l !== "");
  const durations: number[] = [];
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  const bad = new Map<string, number>();
  for (const line of lines) {
    const [startUs, status, durUs] = line.split("\t");
    if (status !== "200") bad.set(status ?? "?", (bad.get(status ?? "?") ?? 0) + 1);
    const s = Number(startUs);
    const d = Number(durUs);
    durations.push(d / 1000);
    first = Math.min(first, s);
    last = Math.max(last, s + d);
  }
  if (bad.size > 0 || durations.length === 0) {
    throw new Error(
      `h2load against :${port}: ${durations.length} requests, not 200: ${JSON.stringify(Object.fromEntries(bad))}`,
    );
  }
  const elapsedS = (last - first) / 1e6;
  return {
    rps: durations.length / elapsedS,
    p50Ms: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    calls: durations.length,
  };
}

/** One Connect JSON call: HTTP 200 and the session in the body, or the benchmark fails. */
async function checkConnectJson(port: number, sessionId: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sessionId }),
  });
  const text = await res.text();
  const body = JSON.parse(text) as { session?: { id?: string } };
  if (res.status !== 200 || body.session?.id !== sessionId) {
    throw new Error(`Connect JSON GetSession on :${port} answered ${res.status}: ${text}`);
  }
}
