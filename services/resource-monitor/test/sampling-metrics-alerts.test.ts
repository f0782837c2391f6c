/**
 * resource-monitor as a real process (issue 7, "Tests"), called through the generated clients over
 * gRPC:
 *
 * - a standalone monitor (no xrdp-integration, sampling every 200 ms, on real Redis and FerretDB)
 *   samples the host and real processes: the CPU of a burner and of an idle process is what the
 *   kernel accounted to them over the monitor's interval, a process that allocates a known amount grows its RSS by it, a missing pid is
 *   listed as missing; its health names the contract's checks;
 * - its /metrics is parsed and checked against the naming conventions, and `promtool check
 *   metrics` finds no problem in it;
 * - alert rules: bad rules are INVALID_ARGUMENT naming the field; a rule that always holds goes
 *   PENDING, then FIRING once the monitor's clock has passed its `for`, stays silenced for the
 *   silence's hour, and RESOLVES when an update makes it never hold; a stale etag is ABORTED;
 * - on a mesh (server-manager, one xrdp node, its resource-monitor): a server's series appear on
 *   /metrics and GetServerUsage finds its xrdp process; once the server is deleted its series go.
 *
 * Time: the monitor reads its alert clock from MONITOR_TEST_CLOCK_FILE (real time plus the offset in
 * milliseconds written there). The test never sleeps for a `for` duration: it moves the clock past
 * it, then polls for the effect with a deadline. Nothing is asserted about how long anything took,
 * nor about how much CPU a process got: CPU readings are checked against the kernel's accounting.
 *
 * The tests of a describe share its monitor (or mesh) and run in order; each makes what it needs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, type ConnectError } from "@connectrpc/connect";
import {
  type Alert,
  AlertEventType,
  AlertMetric,
  type AlertRule,
  type AlertRuleSchema,
  AlertState,
  Comparison,
  HealthCheckStatus,
  HostHealthStatus,
  MatchOperator,
  ResourceMonitorService,
  ServerState,
  Severity,
  type WatchAlertsRequestSchema,
  type WatchAlertsResponse,
} from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { clockTicksPerSecond, readProcStat } from "@lucid-rdp/proc";
import { BadRequestSchema } from "@lucid-rdp/runtime";
import {
  type ChildServer,
  connectErrorOf,
  findTool,
  type Mesh,
  MissingToolError,
  meshFixture,
  needOrSkip,
  type RealServer,
  rdpConnect,
  repoRoot,
  reportMissingTool,
  type SkipContext,
  StreamRecorder,
  spawnService,
  startMongoWire,
  startRedis,
  startXvfb,
  TestClock,
  testAccounts,
  waitFor,
} from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const main = `${repoRoot}services/resource-monitor/src/main.ts`;
/** The sampling interval of the standalone monitor (MONITOR_INTERVAL_MS). */
const intervalMs = 200;
const testTimeout = 120_000;
const promtoolHint = "apt-get install -y prometheus";

type Ctx = SkipContext;

// --- polling -----------------------------------------------------------------------------------

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const ms = (t: Timestamp | undefined): number => (t === undefined ? Number.NaN : timestampMs(t));

/** utime + stime of `pid` as the kernel accounts them (/proc/<pid>/stat), in clock ticks. */
function kernelTicks(pid: number): number {
  const stat = readProcStat(pid);
  if (stat === undefined) throw new Error(`process ${pid} is gone`);
  return stat.userTicks + stat.systemTicks;
}

// --- Prometheus text exposition --------------------------------------------------------------

interface PromSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

interface Exposition {
  /** `# TYPE` per metric family. */
  readonly types: Map<string, string>;
  /** `# HELP` per metric family. */
  readonly help: Map<string, string>;
  readonly samples: PromSample[];
}

/** Parses the Prometheus text format (0.0.4); throws on a line it cannot read. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      (meta[1] === "TYPE" ? types : help).set(meta[2] as string, meta[3] ?? "");
      continue;
    }
    if (line.startsWith("#")) continue;
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!head) throw new Error(`not an exposition line: ${line}`);
    const name = head[1] as string;
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      let i = 1;
      for (;;) {
        while (rest[i] === " " || rest[i] === ",") i++;
        if (rest[i] === "}") {
          i++;
          break;
        }
        const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(rest.slice(i));
        if (!key || rest[i + key[0].length] !== "=" || rest[i + key[0].length + 1] !== '"') {
          throw new Error(`bad label set in: ${line}`);
        }
        i += key[0].length + 2;
        let value = "";
        for (;;) {
          const c = rest[i];
          if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
          i++;
          if (c === '"') break;
          if (c === "\\") {
            const e = rest[i++];
            value += e === "n" ? "\n" : (e ?? "");
          } else {
            value += c;
          }
        }
        labels[key[0]] = value;
      }
      rest = rest.slice(i);
    }
    const [raw] = rest.trim().split(/\s+/);
    const value =
      raw === "+Inf"
        ? Number.POSITIVE_INFINITY
        : raw === "-Inf"
          ? Number.NEGATIVE_INFINITY
          : Number(raw);
    if (raw === undefined || (Number.isNaN(value) && raw !== "NaN")) {
      throw new Error(`bad sample value in: ${line}`);
    }
    samples.push({ name, labels, value });
  }
  return { types, help, samples };
}

function series(e: Exposition, name: string, labels: Record<string, string> = {}): PromSample[] {
  return e.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

function one(e: Exposition, name: string, labels: Record<string, string> = {}): PromSample {
  const found = series(e, name, labels);
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  }
  return found[0] as PromSample;
}

async function scrape(url: string): Promise<{ text: string; exposition: Exposition }> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text}`);
  return { text, exposition: parseExposition(text) };
}

/** Runs `promtool check metrics` with `text` on stdin (no shell); resolves with code and output. */
function promtoolCheck(
  promtool: string,
  text: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

// --- processes the test samples --------------------------------------------------------------

interface Spawned {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the next stdout line equal to `line`. */
  line(line: string): Promise<void>;
}

const children = new Set<ChildProcess>();

/** Runs `node -e script`; resolves once it printed "ready" (a burner is resolved at once). */
async function node(script: string, waitReady = true): Promise<Spawned> {
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const lines: string[] = [];
  const waiters: { line: string; resolve: () => void }[] = [];
  createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on("line", (l) => {
    lines.push(l);
    for (const w of waiters.filter((w) => w.line === l)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const line = (want: string) =>
    lines.includes(want)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ line: want, resolve })),
          new Promise<void>((_, reject) =>
            child.once("exit", (code) =>
              reject(new Error(`node -e exited ${code} before "${want}"`)),
            ),
          ),
        ]);
  if (waitReady) await line("ready");
  if (child.pid === undefined) throw new Error("node -e did not start");
  return { child, pid: child.pid, line };
}

function killChild(p: Spawned | undefined): void {
  p?.child.kill("SIGKILL");
}

/** A pid that no process has: above every pid in use and absent from /proc. */
function missingPid(): number {
  for (let pid = 4_194_303; pid > 1; pid -= 7919) {
    if (!existsSync(`/proc/${pid}`)) return pid;
  }
  throw new Error("no unused pid found");
}

// --- the standalone monitor -------------------------------------------------------------------

describe("resource-monitor as a real process (standalone, sampling every 200 ms)", () => {
  let monitor: ChildServer | undefined;
  let redis: RealServer | undefined;
  let mongo: RealServer | undefined;
  let missing: MissingToolError | undefined;
  const clock = new TestClock({ marginMs: 2_000, prefix: "lucid-rm-clock-" });

  beforeAll(async () => {
    if (!existsSync(main)) {
      throw new Error(`${main} does not exist: resource-monitor is not written yet`);
    }
    try {
      redis = await startRedis();
      mongo = await startMongoWire();
    } catch (e) {
      if (!(e instanceof MissingToolError)) throw e;
      missing = e;
      return;
    }
    monitor = await spawnService(main, {
      LOG_LEVEL: "info",
      PORT: "0",
      NODE_ID: "rm-standalone",
      MONITOR_INTERVAL_MS: String(intervalMs),
      MONITOR_HISTORY_SAMPLES: "5000",
      MONITOR_TEST_CLOCK_FILE: clock.file,
      REDIS_URL: redis.url,
      MONGODB_URI: mongo.url,
      MONGODB_DB: "rm-standalone",
    });
  }, 120_000);

  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    if (monitor !== undefined) {
      monitor.kill("SIGTERM");
      const exited = await Promise.race([
        monitor.exited.then(() => true),
        delay(20_000).then(() => false),
      ]);
      if (!exited) {
        monitor.kill("SIGKILL");
        await monitor.exited;
      }
    }
    await Promise.allSettled([redis?.close(), mongo?.close()]);
    clock.remove();
  }, 60_000);

  /** The monitor, or: report the missing tool and skip the test. */
  const need = (ctx: Ctx): ChildServer => needOrSkip(monitor, missing, ctx);

  const client = (m: ChildServer): Client<typeof ResourceMonitorService> =>
    createNodeClient(ResourceMonitorService, { baseUrl: m.url, timeoutMs: 30_000 });
  const logs = () => monitor?.stdout.slice(-30).join("\n") ?? "";

  describe("sampling", () => {
    it(
      "GetHostMetrics: cores, memory, '/' and 'lo' in the latest sample; the history grows",
      async (ctx) => {
        const rm = client(need(ctx));
        const window = { seconds: 3600n };
        const first = await waitFor(
          "a first host sample",
          async () => {
            const res = await rm.getHostMetrics({ window, maxSamples: 1000 });
            return res.latest !== undefined ? res : undefined;
          },
          { logs },
        );
        const latest = first.latest;
        expect(latest?.hostname).not.toBe("");
        expect(latest?.cpu?.cores.length).toBeGreaterThanOrEqual(1);
        expect(latest?.cpu?.cores.map((c) => c.core)).toEqual(latest?.cpu?.cores.map((_, i) => i));
        expect(latest?.cpu?.usagePercent).toBeGreaterThanOrEqual(0);
        expect(latest?.cpu?.usagePercent).toBeLessThanOrEqual(100);
        expect(latest?.memory?.totalBytes).toBeGreaterThan(0n);
        expect(latest?.memory?.availableBytes).toBeLessThanOrEqual(
          latest?.memory?.totalBytes ?? 0n,
        );
        const root = latest?.filesystems.find((f) => f.mountPoint === "/");
        expect(root, JSON.stringify(latest?.filesystems.map((f) => f.mountPoint))).toBeDefined();
        expect(root?.sizeBytes).toBeGreaterThan(0n);
        expect(latest?.networkInterfaces.map((n) => n.name)).toContain("lo");
        expect(first.sampleInterval?.seconds).toBe(0n);
        expect(first.sampleInterval?.nanos).toBe(intervalMs * 1_000_000);
        // Oldest first, ending with the latest.
        expect(first.history.length).toBeGreaterThanOrEqual(1);
        const times = first.history.map((h) => ms(h.sampleTime));
        expect(times).toEqual([...times].sort((a, b) => a - b));
        expect(times.at(-1)).toBe(ms(latest?.sampleTime));

        const later = await waitFor(
          "the history to grow",
          async () => {
            const res = await rm.getHostMetrics({ window, maxSamples: 1000 });
            return res.history.length > first.history.length &&
              ms(res.latest?.sampleTime) > ms(latest?.sampleTime)
              ? res
              : undefined;
          },
          { logs },
        );
        expect(ms(later.history[0]?.sampleTime)).toBeLessThanOrEqual(times[0] ?? 0);
        // Without a window: the latest sample only.
        expect((await rm.getHostMetrics({})).history).toEqual([]);
      },
      testTimeout,
    );

    it(
      "GetProcessMetrics: a burner's and an idle process's CPU is what the kernel accounted, a missing pid is listed",
      async (ctx) => {
        const rm = client(need(ctx));
        let burner: Spawned | undefined;
        let idle: Spawned | undefined;
        try {
          burner = await node("for(;;){}", false);
          idle = await node("setInterval(() => {}, 1 << 30); console.log('ready');");
          const gone = missingPid();
          const pids = [burner.pid, idle.pid, gone];
          const live = [burner.pid, idle.pid];
          /** One call, with the kernel's utime + stime of each live pid read around it. */
          const bracketed = async () => {
            const before = live.map(kernelTicks);
            const res = await rm.getProcessMetrics({ pids });
            const after = live.map(kernelTicks);
            return { res, before, after };
          };
          // The first call may have nothing to measure CPU against; the second measures the time
          // since the first. The machine is shared (2 cores, other test files beside this one), so
          // the burner's share of a core is not asserted: the test waits until the kernel has
          // accounted 0.2 s of its CPU, however long that takes, and checks that each reading is
          // what the kernel accounted over the interval the monitor itself measured.
          const first = await bracketed();
          await waitFor("the burner to use 0.2 s of CPU", async () =>
            kernelTicks(burner!.pid) - (first.after[0] ?? 0) >= 20 ? true : undefined,
          );
          const second = await bracketed();
          const res = second.res;
          expect(res.missingPids).toEqual([gone]);
          expect(res.processes.map((p) => p.pid)).toEqual([burner.pid, idle.pid]);
          const [b, i] = res.processes;
          expect(b?.name).toBe("node");
          expect(b?.rssBytes).toBeGreaterThan(0n);
          expect(b?.threads).toBeGreaterThanOrEqual(1);
          expect(b?.ppid).toBe(process.pid);
          live.forEach((pid, k) => {
            const was = first.res.processes.find((p) => p.pid === pid);
            const now = res.processes.find((p) => p.pid === pid);
            const elapsedMs = ms(now?.sampleTime) - ms(was?.sampleTime);
            // The monitor read the ticks somewhere inside each bracket.
            const percent = (ticks: number) =>
              ((ticks / clockTicksPerSecond) * 100_000) / elapsedMs;
            const low = percent((second.before[k] ?? 0) - (first.after[k] ?? 0));
            const high = percent((second.after[k] ?? 0) - (first.before[k] ?? 0));
            const reading = now?.cpuPercent ?? Number.NaN;
            const context = `pid ${pid}: ${reading}% over ${elapsedMs} ms; kernel ${low}%..${high}%`;
            expect(elapsedMs, context).toBeGreaterThan(0);
            expect(reading, context).toBeGreaterThanOrEqual(low - 1e-6);
            expect(reading, context).toBeLessThanOrEqual(high + 1e-6);
          });
          // The burner ran 20 ticks or more inside the interval; the idle process next to nothing.
          expect(b?.cpuPercent).toBeGreaterThan(i?.cpuPercent ?? Number.POSITIVE_INFINITY);
        } finally {
          killChild(burner);
          killChild(idle);
        }
      },
      testTimeout,
    );

    it(
      "GetProcessMetrics: the RSS of a process that allocates 128 MiB grows by that much",
      async (ctx) => {
        const rm = client(need(ctx));
        const size = 128 * 1024 * 1024;
        let p: Spawned | undefined;
        try {
          p = await node(
            `process.stdin.once("data", () => { globalThis.kept = Buffer.alloc(${size}, 1); console.log("allocated"); }); console.log("ready");`,
          );
          const rss = async () =>
            (await rm.getProcessMetrics({ pids: [(p as Spawned).pid] })).processes[0]?.rssBytes ??
            0n;
          const before = await rss();
          expect(before).toBeGreaterThan(0n);
          p.child.stdin?.write("go\n");
          await p.line("allocated");
          const after = await rss();
          const grown = Number(after - before);
          expect(grown, `${before} -> ${after}`).toBeGreaterThan(size * 0.9);
          expect(grown, `${before} -> ${after}`).toBeLessThan(size * 1.25);
        } finally {
          killChild(p);
        }
      },
      testTimeout,
    );

    it(
      "GetHostHealth: the contract's named checks, ordered by name; sampling passes",
      async (ctx) => {
        const rm = client(need(ctx));
        const health = await waitFor(
          "the sampling check PASSING",
          async () => {
            const h = (await rm.getHostHealth({})).hostHealth;
            const sampling = h?.checks.find((c) => c.name === "sampling");
            return sampling?.status === HealthCheckStatus.PASSING ? h : undefined;
          },
          { logs },
        );
        const names = health.checks.map((c) => c.name);
        for (const name of ["disk_space", "memory_pressure", "sampling", "xrdp_installed"]) {
          expect(names).toContain(name);
        }
        expect(names).toEqual([...names].sort());
        expect(health.hostname).not.toBe("");
        expect(health.status).not.toBe(HostHealthStatus.UNSPECIFIED);
        expect(health.checkTime).toBeDefined();
        for (const check of health.checks) {
          expect(check.status, check.name).not.toBe(HealthCheckStatus.UNSPECIFIED);
          if (check.status === HealthCheckStatus.PASSING)
            expect(check.message, check.name).toBe("");
        }
      },
      testTimeout,
    );
  });

  describe("/metrics", () => {
    const gauges = [
      "lucid_host_cpu_usage_ratio",
      "lucid_host_cpu_core_usage_ratio",
      "lucid_host_load_average",
      "lucid_host_memory_total_bytes",
      "lucid_host_memory_available_bytes",
      "lucid_host_swap_total_bytes",
      "lucid_host_swap_used_bytes",
      "lucid_host_filesystem_size_bytes",
      "lucid_host_filesystem_used_bytes",
      "lucid_host_filesystem_available_bytes",
      "lucid_server_cpu_usage_cores",
      "lucid_server_memory_rss_bytes",
      "lucid_server_processes",
    ];
    const counters = [
      "lucid_host_disk_read_bytes_total",
      "lucid_host_disk_written_bytes_total",
      "lucid_host_network_receive_bytes_total",
      "lucid_host_network_transmit_bytes_total",
    ];
    const firstScrape = (m: ChildServer) =>
      waitFor(
        "host series on /metrics",
        async () => {
          const s = await scrape(m.url);
          return series(s.exposition, "lucid_host_memory_total_bytes").length > 0 ? s : undefined;
        },
        { logs },
      );

    it(
      "exports the host gauges and counters with the conventions (_bytes, _ratio, _total, bounded labels)",
      async (ctx) => {
        const m = need(ctx);
        const { exposition: e } = await firstScrape(m);
        for (const name of gauges) expect(e.types.get(name), name).toBe("gauge");
        for (const name of counters) expect(e.types.get(name), name).toBe("counter");
        for (const [name, type] of e.types) {
          if (!name.startsWith("lucid_")) continue;
          expect(e.help.get(name) ?? "", `HELP of ${name}`).not.toBe("");
          if (type === "counter") expect(name, name).toMatch(/_total$/);
          else expect(name, name).not.toMatch(/_total$/);
          if (name.includes("bytes")) expect(name, name).toMatch(/_bytes(_total)?$/);
        }

        const cpu = one(e, "lucid_host_cpu_usage_ratio");
        expect(cpu.labels).toEqual({});
        expect(cpu.value).toBeGreaterThanOrEqual(0);
        expect(cpu.value).toBeLessThanOrEqual(1);
        const cores = series(e, "lucid_host_cpu_core_usage_ratio");
        expect(cores.length).toBeGreaterThanOrEqual(1);
        expect(cores.map((c) => c.labels.core)).toContain("0");
        for (const c of cores) {
          expect(Object.keys(c.labels)).toEqual(["core"]);
          expect(c.value).toBeGreaterThanOrEqual(0);
          expect(c.value).toBeLessThanOrEqual(1);
        }
        const load = series(e, "lucid_host_load_average");
        expect(load).toHaveLength(3);
        expect(new Set(load.map((l) => l.labels.window)).size).toBe(3);
        for (const l of load) expect(Object.keys(l.labels)).toEqual(["window"]);

        const memTotal = one(e, "lucid_host_memory_total_bytes").value;
        const memAvail = one(e, "lucid_host_memory_available_bytes").value;
        expect(memTotal).toBeGreaterThan(0);
        expect(memAvail).toBeGreaterThan(0);
        expect(memAvail).toBeLessThanOrEqual(memTotal);
        const swapTotal = one(e, "lucid_host_swap_total_bytes").value;
        const swapUsed = one(e, "lucid_host_swap_used_bytes").value;
        expect(swapUsed).toBeGreaterThanOrEqual(0);
        expect(swapUsed).toBeLessThanOrEqual(swapTotal);

        for (const name of [
          "lucid_host_filesystem_size_bytes",
          "lucid_host_filesystem_used_bytes",
          "lucid_host_filesystem_available_bytes",
        ]) {
          for (const s of series(e, name)) {
            expect(Object.keys(s.labels).sort(), name).toEqual(["device", "fstype", "mountpoint"]);
          }
        }
        const root = one(e, "lucid_host_filesystem_size_bytes", { mountpoint: "/" });
        expect(root.labels.device).not.toBe("");
        expect(root.labels.fstype).not.toBe("");
        expect(root.value).toBeGreaterThan(0);
        const rootUsed = one(e, "lucid_host_filesystem_used_bytes", { mountpoint: "/" }).value;
        const rootAvail = one(e, "lucid_host_filesystem_available_bytes", {
          mountpoint: "/",
        }).value;
        expect(rootUsed).toBeLessThanOrEqual(root.value);
        expect(rootAvail).toBeLessThanOrEqual(root.value);

        for (const name of [
          "lucid_host_disk_read_bytes_total",
          "lucid_host_disk_written_bytes_total",
        ]) {
          for (const s of series(e, name)) expect(Object.keys(s.labels), name).toEqual(["device"]);
        }
        for (const name of [
          "lucid_host_network_receive_bytes_total",
          "lucid_host_network_transmit_bytes_total",
        ]) {
          for (const s of series(e, name))
            expect(Object.keys(s.labels), name).toEqual(["interface"]);
          expect(one(e, name, { interface: "lo" }).value).toBeGreaterThanOrEqual(0);
        }
        // Nothing to watch without xrdp-integration: no server series.
        for (const name of gauges.filter((n) => n.startsWith("lucid_server_"))) {
          expect(series(e, name), name).toEqual([]);
        }

        // Counters never go down between scrapes.
        const before = e;
        const after = await waitFor(
          "a later scrape",
          async () => {
            const s = await scrape(m.url);
            return one(s.exposition, "lucid_host_network_receive_bytes_total", { interface: "lo" })
              .value >
              one(before, "lucid_host_network_receive_bytes_total", { interface: "lo" }).value
              ? s.exposition
              : undefined;
          },
          { logs },
        );
        for (const name of counters) {
          for (const s of series(before, name)) {
            const now = series(after, name, s.labels)[0];
            if (now !== undefined)
              expect(now.value, `${name}${JSON.stringify(s.labels)}`).toBeGreaterThanOrEqual(
                s.value,
              );
          }
        }
      },
      testTimeout,
    );

    it(
      "passes promtool check metrics",
      async (ctx) => {
        const m = need(ctx);
        const promtool = findTool("promtool", promtoolHint); // throws under CI=true
        if (promtool === undefined) {
          reportMissingTool("promtool", promtoolHint, ctx.task.name);
          ctx.skip();
          return;
        }
        const { text } = await firstScrape(m);
        const { code, output } = await promtoolCheck(promtool, text);
        const problems = output.split("\n").filter((l) => l.trim() !== "");
        expect(problems, output).toEqual([]);
        expect(code, output).toBe(0);
      },
      testTimeout,
    );
  });

  describe("alert rules", () => {
    /** A rule as an init object (not a full message: `create()` fills in the rest). */
    type RuleInit = Exclude<MessageInitShape<typeof AlertRuleSchema>, AlertRule>;
    const goodRule = (fields: Partial<RuleInit> = {}): RuleInit => ({
      displayName: "host cpu",
      metric: AlertMetric.HOST_CPU_USAGE_PERCENT,
      comparison: Comparison.GREATER_THAN,
      threshold: 90,
      forDuration: { seconds: 60n },
      severity: Severity.WARNING,
      ...fields,
    });

    /** Expects INVALID_ARGUMENT whose BadRequest names `field` (or a path below it). */
    async function expectInvalid(p: Promise<unknown>, field: string): Promise<void> {
      const err = await connectErrorOf(p);
      expect(err?.code, String(err)).toBe(Code.InvalidArgument);
      const violations = (err as ConnectError)
        .findDetails(BadRequestSchema)
        .flatMap((b) => b.fieldViolations);
      const names = violations.some(
        (v) =>
          v.field === field ||
          v.field.startsWith(`${field}.`) ||
          v.field.startsWith(`${field}[`) ||
          v.description.includes(field),
      );
      expect(
        names,
        `${field} not named in ${JSON.stringify(violations)} (${err?.rawMessage})`,
      ).toBe(true);
    }

    it(
      "takes REGEX and NOT_REGEX matchers: a regex selecting the root filesystem fires on it alone; non-RE2 or unbounded regexes are refused",
      async (ctx) => {
        const m = need(ctx);
        const rm = client(m);
        const create = (rule: RuleInit) =>
          rm.createAlertRule({ requestId: randomUUID(), alertRule: rule });
        const fsRule = (selector: RuleInit["selector"]) =>
          goodRule({
            displayName: "root filesystem",
            metric: AlertMetric.HOST_FILESYSTEM_USED_PERCENT,
            comparison: Comparison.GREATER_THAN_OR_EQUAL,
            threshold: 0,
            forDuration: { seconds: 0n },
            selector,
          });

        // Refused: lookaround (not RE2), a regex matching everything with no EQUAL beside it,
        // regex syntax under EQUAL, a control character. (Nested quantifiers are safe on RE2.)
        const bad: [RuleInit["selector"], string][] = [
          [
            [{ name: "mount_point", operator: MatchOperator.REGEX, value: "(?=/).*" }],
            "alert_rule.selector",
          ],
          [
            [{ name: "mount_point", operator: MatchOperator.REGEX, value: ".*" }],
            "alert_rule.selector",
          ],
          [
            [{ name: "mount_point", operator: MatchOperator.EQUAL, value: "/|/var" }],
            "alert_rule.selector",
          ],
          [
            [{ name: "mount_point", operator: MatchOperator.REGEX, value: "/\u0007" }],
            "alert_rule.selector",
          ],
        ];
        for (const [selector, field] of bad) await expectInvalid(create(fsRule(selector)), field);

        // Accepted and read back as written; it fires for "/" and for no other mount point.
        const { alertRule } = await create(
          fsRule([
            { name: "mount_point", operator: MatchOperator.REGEX, value: "/|/nonexistent.*" },
            { name: "fs_type", operator: MatchOperator.NOT_REGEX, value: "tmpfs|devtmpfs" },
          ]),
        );
        const id = alertRule?.id ?? "";
        try {
          const got = (await rm.getAlertRule({ alertRuleId: id })).alertRule;
          expect(got?.selector.map((x) => [x.operator, x.value])).toEqual([
            [MatchOperator.REGEX, "/|/nonexistent.*"],
            [MatchOperator.NOT_REGEX, "tmpfs|devtmpfs"],
          ]);
          const firing = await waitFor("the root filesystem alert FIRING", async () => {
            const { alerts } = await rm.listAlerts({ ruleId: id, pageSize: 100 });
            return alerts.some((a) => a.state === AlertState.FIRING) ? alerts : undefined;
          });
          expect(firing.map((a) => a.labels.mount_point)).toEqual(["/"]);
        } finally {
          await rm.deleteAlertRule({ alertRuleId: id });
        }
      },
      testTimeout,
    );

    it(
      "rejects an unknown metric, a negative for, a NaN threshold and an unbounded selector, naming the field",
      async (ctx) => {
        const m = need(ctx);
        const rm = client(m);
        const create = (rule: RuleInit) =>
          rm.createAlertRule({ requestId: randomUUID(), alertRule: rule });
        const before = (await rm.listAlertRules({ pageSize: 1000 })).alertRules.length;

        await expectInvalid(
          create(goodRule({ metric: AlertMetric.UNSPECIFIED })),
          "alert_rule.metric",
        );
        await expectInvalid(create(goodRule({ metric: 99 as AlertMetric })), "alert_rule.metric");
        await expectInvalid(
          create(goodRule({ forDuration: { seconds: -5n } })),
          "alert_rule.for_duration",
        );
        await expectInvalid(
          create(goodRule({ forDuration: { seconds: 0n, nanos: -1 } })),
          "alert_rule.for_duration",
        );
        await expectInvalid(
          create(goodRule({ threshold: Number.POSITIVE_INFINITY })),
          "alert_rule.threshold",
        );
        // Unbounded selectors: more than 16 matchers, or a label the metric does not have.
        await expectInvalid(
          create(
            goodRule({
              metric: AlertMetric.HOST_FILESYSTEM_USED_PERCENT,
              selector: Array.from({ length: 17 }, (_, i) => ({
                name: "mount_point",
                operator: MatchOperator.NOT_EQUAL,
                value: `/m${i}`,
              })),
            }),
          ),
          "alert_rule.selector",
        );
        await expectInvalid(
          create(
            goodRule({
              selector: [{ name: "server_id", operator: MatchOperator.EQUAL, value: "x" }],
            }),
          ),
          "alert_rule.selector",
        );

        // NaN as Connect JSON: proto3 JSON spells it "NaN".
        const res = await fetch(`${m.url}/lucid.rdp.v1.ResourceMonitorService/CreateAlertRule`, {
          method: "POST",
          headers: { "content-type": "application/json", "connect-protocol-version": "1" },
          body: JSON.stringify({
            requestId: randomUUID(),
            alertRule: {
              displayName: "nan",
              metric: "ALERT_METRIC_HOST_CPU_USAGE_PERCENT",
              comparison: "COMPARISON_GREATER_THAN",
              threshold: "NaN",
              severity: "SEVERITY_WARNING",
            },
          }),
        });
        const body = (await res.json()) as {
          code?: string;
          message?: string;
          details?: { type: string; value: string }[];
        };
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(body.code).toBe("invalid_argument");
        const bad = body.details?.find((d) => d.type === "google.rpc.BadRequest");
        expect(bad, JSON.stringify(body)).toBeDefined();
        const fields = fromBinary(
          BadRequestSchema,
          Buffer.from(bad?.value ?? "", "base64"),
        ).fieldViolations.map((v) => v.field);
        expect(fields, JSON.stringify(body)).toContain("alert_rule.threshold");

        expect((await rm.listAlertRules({ pageSize: 1000 })).alertRules).toHaveLength(before);
      },
      testTimeout,
    );

    it(
      "a rule that always holds: PENDING, FIRING once the clock passed its for, silenced for an hour, RESOLVED by an update; a stale etag is ABORTED",
      async (ctx) => {
        const m = need(ctx);
        const rm = client(m);
        const forMs = 10_000;
        const request = {
          requestId: randomUUID(),
          alertRule: goodRule({
            displayName: "cpu always above -1",
            threshold: -1,
            forDuration: { seconds: BigInt(forMs / 1000) },
            labels: { test: "rm-process" },
            summary: "always true",
          }),
        };
        const created = (await rm.createAlertRule(request)).alertRule;
        const ruleId = created?.id ?? "";
        expect(ruleId).toMatch(/^[0-9a-f-]{36}$/);
        expect(created?.etag).not.toBe("");
        expect(created?.threshold).toBe(-1);
        // A retry with the same request id returns the first rule.
        expect((await rm.createAlertRule(request)).alertRule?.id).toBe(ruleId);

        let last: Alert | undefined;
        const show = () =>
          last === undefined
            ? "(no alert)"
            : `${AlertState[last.state]} value=${last.value} threshold=${last.threshold} silenced_until=${ms(last.silencedUntil)}`;
        const alertOf = async () => {
          const list = await rm.listAlerts({ ruleId, pageSize: 1000 });
          expect(list.alerts.length, "one alert per series: host CPU has one").toBeLessThanOrEqual(
            1,
          );
          last = list.alerts[0];
          return { alert: last, lastEventId: list.lastEventId };
        };

        // PENDING first, with a cursor to watch from.
        const pending = await waitFor(
          "the alert PENDING",
          async () => {
            const { alert, lastEventId } = await alertOf();
            if (alert === undefined || alert.state === AlertState.INACTIVE) return undefined;
            if (alert.state !== AlertState.PENDING) return alert;
            return lastEventId !== "" ? { alert, lastEventId } : undefined;
          },
          { detail: show, logs },
        );
        if (!("lastEventId" in pending)) {
          throw new Error(`the alert's first state was not PENDING: ${show()}`);
        }
        const alert = pending.alert;
        const alertId = alert.id;
        expect(alert.ruleId).toBe(ruleId);
        expect(alert.severity).toBe(Severity.WARNING);
        expect(alert.labels.test).toBe("rm-process");
        expect(alert.summary).toBe("always true");
        expect(alert.threshold).toBe(-1);
        expect(alert.value).toBeGreaterThan(-1);
        expect(alert.activeTime).toBeDefined();
        expect(alert.fireTime).toBeUndefined();
        expect(alert.silencedUntil).toBeUndefined();

        const watch = new AlertWatch(rm, { ruleId, afterEventId: pending.lastEventId });
        try {
          // FIRING once the monitor's clock has passed active_time + for.
          clock.advancePast(ms(alert.activeTime) + forMs);
          const firing = await waitFor(
            "the alert FIRING",
            async () => {
              const { alert: a } = await alertOf();
              return a?.state === AlertState.FIRING ? a : undefined;
            },
            { detail: show, logs },
          );
          expect(firing.id).toBe(alertId);
          expect(ms(firing.fireTime) - ms(firing.activeTime)).toBeGreaterThanOrEqual(forMs);
          const toFiring = await watch.until("a STATE_CHANGED event to FIRING", (e) =>
            isStateChange(e, alertId, AlertState.FIRING),
          );
          expect(toFiring.previousState).toBe(AlertState.PENDING);

          // Silenced for an hour: keeps its state, silenced_until set.
          const silenced = (
            await rm.silenceAlert({ alertId, duration: { seconds: 3600n }, comment: "maintenance" })
          ).alert;
          expect(silenced?.state).toBe(AlertState.FIRING);
          expect(silenced?.silenceComment).toBe("maintenance");
          const until = ms(silenced?.silencedUntil);
          expect(until - ms(firing.fireTime)).toBeGreaterThan(59 * 60_000);
          const silencedEvent = await watch.until(
            "a SILENCED event",
            (e) => e.type === AlertEventType.SILENCED && e.alert?.id === alertId,
          );
          expect(silencedEvent.alert?.state).toBe(AlertState.FIRING);
          expect(ms(silencedEvent.alert?.silencedUntil)).toBe(until);
          // Evaluations after the silence leave it silenced and FIRING.
          const silencedAt = ms(silenced?.updateTime);
          const evaluated = await waitFor(
            "an evaluation after the silence",
            async () => {
              const { alert: a } = await alertOf();
              return a !== undefined && ms(a.lastEvaluationTime) > silencedAt ? a : undefined;
            },
            { detail: show, logs },
          );
          expect(evaluated.state).toBe(AlertState.FIRING);
          expect(ms(evaluated.silencedUntil)).toBe(until);
          expect((await rm.listAlerts({ ruleId, silenced: true })).alerts.map((a) => a.id)).toEqual(
            [alertId],
          );
          expect((await rm.listAlerts({ ruleId, silenced: false })).alerts).toEqual([]);
          expect(
            watch.events.some(
              (e) => e.type === AlertEventType.UNSILENCED && e.alert?.id === alertId,
            ),
          ).toBe(false);

          // An update that makes the condition never hold resolves the alert.
          const current = (await rm.getAlertRule({ alertRuleId: ruleId })).alertRule;
          const staleEtag = current?.etag ?? "";
          expect(staleEtag).toBe(created?.etag);
          const updated = (
            await rm.updateAlertRule({
              alertRule: { id: ruleId, threshold: 1000, etag: staleEtag },
              updateMask: { paths: ["threshold"] },
            })
          ).alertRule;
          expect(updated?.threshold).toBe(1000);
          expect(updated?.etag).not.toBe(staleEtag);
          expect(updated?.displayName).toBe("cpu always above -1");
          expect(updated?.forDuration?.seconds).toBe(BigInt(forMs / 1000));
          expect(updated?.comparison).toBe(Comparison.GREATER_THAN);
          expect(updated?.labels).toEqual({ test: "rm-process" });
          const resolved = await waitFor(
            "the alert RESOLVED",
            async () => {
              const { alert: a } = await alertOf();
              return a?.state === AlertState.RESOLVED ? a : undefined;
            },
            { detail: show, logs },
          );
          expect(resolved.id).toBe(alertId);
          expect(resolved.threshold).toBe(1000);
          expect(resolved.resolveTime).toBeDefined();
          const toResolved = await watch.until("a STATE_CHANGED event to RESOLVED", (e) =>
            isStateChange(e, alertId, AlertState.RESOLVED),
          );
          expect(toResolved.previousState).toBe(AlertState.FIRING);
          // In order: FIRING, then the silence, then RESOLVED.
          const idx = (e: WatchAlertsResponse) => watch.events.indexOf(e);
          expect(idx(toFiring)).toBeLessThan(idx(silencedEvent));
          expect(idx(silencedEvent)).toBeLessThan(idx(toResolved));
          expect(watch.failure).toBeUndefined();

          // The etag read before the update is stale now.
          const stale = await connectErrorOf(
            rm.updateAlertRule({
              alertRule: { id: ruleId, threshold: 5, etag: staleEtag },
              updateMask: { paths: ["threshold"] },
            }),
          );
          expect(stale?.code, String(stale)).toBe(Code.Aborted);
          expect((await rm.getAlertRule({ alertRuleId: ruleId })).alertRule?.threshold).toBe(1000);

          await rm.deleteAlertRule({ alertRuleId: ruleId, etag: updated?.etag ?? "" });
          expect((await connectErrorOf(rm.getAlertRule({ alertRuleId: ruleId })))?.code).toBe(
            Code.NotFound,
          );
          // A deleted rule's alerts are removed.
          await waitFor(
            "the deleted rule's alerts removed",
            async () =>
              (await rm.listAlerts({ ruleId, pageSize: 1000 })).alerts.length === 0
                ? true
                : undefined,
            { logs },
          );
        } finally {
          void watch.stop();
        }
      },
      testTimeout,
    );

    it(
      "DeleteAlertRule with a stale etag is ABORTED and deletes nothing; with the current one it deletes, then NOT_FOUND",
      async (ctx) => {
        const rm = client(need(ctx));
        const created = (
          await rm.createAlertRule({
            requestId: randomUUID(),
            alertRule: goodRule({ displayName: "etag on delete" }),
          })
        ).alertRule;
        const ruleId = created?.id ?? "";
        const staleEtag = created?.etag ?? "";
        const updated = (
          await rm.updateAlertRule({
            alertRule: { id: ruleId, threshold: 95, etag: staleEtag },
            updateMask: { paths: ["threshold"] },
          })
        ).alertRule;
        expect(updated?.etag).not.toBe(staleEtag);
        try {
          const stale = await connectErrorOf(
            rm.deleteAlertRule({ alertRuleId: ruleId, etag: staleEtag }),
          );
          expect(stale?.code, String(stale)).toBe(Code.Aborted);
          expect((await rm.getAlertRule({ alertRuleId: ruleId })).alertRule?.etag).toBe(
            updated?.etag,
          );
        } finally {
          await connectErrorOf(rm.deleteAlertRule({ alertRuleId: ruleId }));
        }
        const again = await connectErrorOf(
          rm.deleteAlertRule({ alertRuleId: ruleId, etag: updated?.etag ?? "" }),
        );
        expect(again?.code, String(again)).toBe(Code.NotFound);
      },
      testTimeout,
    );
  });
});

function isStateChange(e: WatchAlertsResponse, alertId: string, state: AlertState): boolean {
  return (
    e.type === AlertEventType.STATE_CHANGED && e.alert?.id === alertId && e.alert.state === state
  );
}

/** A WatchAlerts stream read in the background; its events are collected in order. */
class AlertWatch extends StreamRecorder<WatchAlertsResponse> {
  constructor(
    client: Client<typeof ResourceMonitorService>,
    readonly request: MessageInitShape<typeof WatchAlertsRequestSchema>,
  ) {
    super((opts) => client.watchAlerts(request, opts));
  }

  /** Polls until an event matches; returns it. Fails at once if the stream failed or ended. */
  until(what: string, match: (e: WatchAlertsResponse) => boolean): Promise<WatchAlertsResponse> {
    return waitFor(
      what,
      async () => {
        const found = this.events.find(match);
        if (found !== undefined) return found;
        if (this.failure !== undefined)
          throw new Error(`WatchAlerts failed: ${String(this.failure)}`);
        if (this.ended) throw new Error("WatchAlerts ended");
        return undefined;
      },
      {
        detail: () =>
          this.events
            .map(
              (e) =>
                `${AlertEventType[e.type]} ${AlertState[e.previousState]}->${AlertState[e.alert?.state ?? 0]}`,
            )
            .join(", "),
      },
    );
  }
}

// --- per-server series on a mesh ---------------------------------------------------------------

/** The RDP client's X display: clear of the other desktop tests' (93, 94, 95). */
const clientDisplay = 96;

describe("resource-monitor on a mesh (server-manager, xrdp-integration on real xrdp, its monitor)", () => {
  const fixture = meshFixture({
    serverManagers: 1,
    xrdpNodes: 1,
    resourceMonitor: true,
    env: { XRDP_MAX_INSTANCES: "4" },
    // Real desktops (a sesman per instance), clear of the other desktop tests' displays.
    desktops: { displays: { first: 300, last: 349 } },
  });
  const need = (ctx: Ctx): Mesh => fixture.need(ctx);

  const serverSeries = [
    "lucid_server_cpu_usage_cores",
    "lucid_server_memory_rss_bytes",
    "lucid_server_processes",
  ];

  it(
    "a server's series appear on its node's /metrics and GetServerUsage finds its xrdp; deleted, its series go",
    async (ctx) => {
      const m = need(ctx);
      expect(m.resourceMonitors).toHaveLength(1);
      const monitor = m.resourceMonitors[0] as ChildServer;
      const rm = m.resourceMonitor(0);
      const sm = m.serverManager(0, { timeoutMs: 60_000 });
      const logs = () => m.logs();

      const { server } = await sm.createServer({
        requestId: randomUUID(),
        owner: testAccounts.alice.name,
        waitTimeout: { seconds: 30n },
      });
      const serverId = server?.id ?? "";
      expect(server?.state, server?.stateMessage).toBe(ServerState.READY);
      expect(server?.nodeId).toBe("node-1");
      const instance = (await m.xrdp(0).getInstance({ instanceId: server?.instanceId ?? "" }))
        .instance;
      const xrdpPid = instance?.pid ?? 0;
      expect(xrdpPid).toBeGreaterThan(0);

      let lastSeries = "";
      const exposition = await waitFor(
        `series of server ${serverId} on /metrics`,
        async () => {
          const { exposition: e } = await scrape(monitor.url);
          const mine = e.samples.filter((s) => s.labels.server_id === serverId);
          lastSeries = mine
            .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
            .join("; ");
          const rss = series(e, "lucid_server_memory_rss_bytes", {
            server_id: serverId,
            node: "node-1",
          });
          return rss.length === 1 && (rss[0]?.value ?? 0) > 0 ? e : undefined;
        },
        { detail: () => lastSeries, logs },
      );
      for (const name of serverSeries) {
        const s = one(exposition, name, { server_id: serverId });
        expect(s.labels, name).toEqual({ server_id: serverId, node: "node-1" });
        expect(s.value, name).toBeGreaterThanOrEqual(0);
      }
      expect(
        one(exposition, "lucid_server_processes", { server_id: serverId }).value,
      ).toBeGreaterThanOrEqual(1);

      const usage = await waitFor(
        "GetServerUsage with the xrdp process",
        async () => {
          const u = (await rm.getServerUsage({ target: { case: "serverId", value: serverId } }))
            .serverUsage;
          return u?.processes.some((p) => p.pid === xrdpPid) ? u : undefined;
        },
        { logs },
      );
      expect(usage.serverId).toBe(serverId);
      expect(usage.instanceId).toBe(server?.instanceId);
      expect(usage.processes[0]?.pid, "the xrdp process first").toBe(xrdpPid);
      expect(usage.usage?.memoryRssBytes).toBeGreaterThan(0n);
      expect(usage.usage?.processCount).toBeGreaterThanOrEqual(1);

      // The owner logs in: the desktop (its X server, window manager, session) counts too.
      const stopXvfb = await startXvfb(clientDisplay);
      const client = rdpConnect({
        port: instance?.port ?? 0,
        user: testAccounts.alice.name,
        password: testAccounts.alice.password,
        xDisplay: clientDisplay,
      });
      try {
        const withDesktop = await waitFor(
          "GetServerUsage with the desktop's X server",
          async () => {
            const u = (await rm.getServerUsage({ target: { case: "serverId", value: serverId } }))
              .serverUsage;
            return u?.processes.some((p) => p.name === "Xorg") &&
              u.processes.some((p) => p.name === "openbox")
              ? u
              : undefined;
          },
          { logs, detail: () => client.output() },
        );
        expect(withDesktop.processes.some((p) => p.pid === xrdpPid)).toBe(true);
        expect(withDesktop.usage?.memoryRssBytes ?? 0n).toBeGreaterThan(
          usage.usage?.memoryRssBytes ?? 0n,
        );
      } finally {
        client.close();
        stopXvfb();
      }
      const unknown = await connectErrorOf(
        rm.getServerUsage({ target: { case: "serverId", value: randomUUID() } }),
      );
      expect(unknown?.code, String(unknown)).toBe(Code.NotFound);

      await sm.deleteServer({ serverId, force: true });
      await waitFor(
        `series of server ${serverId} removed from /metrics`,
        async () => {
          const { exposition: e } = await scrape(monitor.url);
          const left = e.samples.filter((s) => s.labels.server_id === serverId);
          lastSeries = left
            .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
            .join("; ");
          return left.length === 0 ? true : undefined;
        },
        { detail: () => lastSeries, logs },
      );
    },
    testTimeout,
  );
});
