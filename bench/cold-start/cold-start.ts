/**
 * Benchmark 5, cold start and idle RSS of each service, bundled as in the image (one ESM file by
 * scripts/bundle.ts, run by plain `node`, NODE_ENV=production), against a bare @grpc/grpc-js
 * server with grpc-health-check bundled the same way (grpc-health-server.ts).
 *
 * Cold start: from spawn to the first grpc.health.v1.Health/Check (service "") answering
 * SERVING, probed every 5 ms with a fresh grpc-js channel per attempt (a reused channel backs off
 * a second after a refused connection, which would measure grpc-js's backoff, not the server).
 * Idle RSS: VmRSS of the process after it has been SERVING and idle for a while.
 *
 * Services run alone on the embedded backends (no MONGODB_URI, REDIS_URL or peer URLs), as
 * `npm start -w` runs them, pinned to core 0; runs alternate baseline and services.
 */
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { build } from "esbuild";
import { service as healthService } from "grpc-health-check";
import { bundleService } from "../../scripts/bundle.js";
import {
  freePort,
  type Launched,
  launch,
  repoRoot,
  requireTool,
  rssBytes,
  sleep,
} from "../lib/proc.js";
import type { BenchmarkOutput, Metric } from "../lib/report.js";
import { mean, median } from "../lib/stats.js";

const serverCpu = 0;
const services = [
  "server-manager",
  "xrdp-integration",
  "session-controller",
  "resource-monitor",
] as const;
const baselineName = "grpc-js + grpc-health-check";

interface Sample {
  readonly startMs: number;
  readonly rssMiB: number;
}

export async function runColdStart(opts: { quick: boolean }): Promise<BenchmarkOutput> {
  const runs = opts.quick ? 1 : 5;
  const idleMs = opts.quick ? 1_000 : 3_000;
  const xrdp = requireTool("xrdp", "apt-get install -y xrdp");
  const dir = await mkdtemp(join(tmpdir(), "lucid-bench-cold-"));
  try {
    const out = join(dir, "bundles");
    const bundles = new Map<string, string>();
    for (const s of services) bundles.set(s, await bundleService(s, out));
    bundles.set(baselineName, await bundleBaseline(out));

    const samples = new Map<string, Sample[]>([...bundles.keys()].map((k) => [k, []]));
    for (let r = 0; r < runs; r++) {
      for (const [name, bundle] of bundles) {
        const stateDir = join(dir, `state-${r}-${name.replace(/[^a-z-]/g, "")}`);
        const env: NodeJS.ProcessEnv = {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: "production",
          HOST: "127.0.0.1",
          LOG_LEVEL: "info",
          // Records in memory: a bundle ships no SQLite binding, and each run starts empty.
          EMBEDDED_STATE: "memory",
          // xrdp-integration: its own state directory per run, the real xrdp, no instance.
          XRDP_STATE_DIR: stateDir,
          XRDP_BIN: xrdp,
          XRDP_SESMAN: "off",
        };
        samples.get(name)?.push(await coldStart(bundle, env, idleMs));
      }
    }

    const summary = (name: string) => {
      const s = samples.get(name) ?? [];
      return {
        startMs: median(s.map((x) => x.startMs)),
        rssMiB: median(s.map((x) => x.rssMiB)),
      };
    };
    const base = summary(baselineName);
    const metrics: Metric[] = [
      {
        name: "cold start to SERVING, mean of the four services",
        unit: "ms",
        better: "lower",
        ours: mean(services.map((s) => summary(s).startMs)),
        baseline: base.startMs,
        headline: true,
      },
    ];
    for (const s of services) {
      metrics.push({
        name: `cold start to SERVING: ${s}`,
        unit: "ms",
        better: "lower",
        ours: summary(s).startMs,
        baseline: base.startMs,
      });
    }
    for (const s of services) {
      metrics.push({
        name: `idle RSS: ${s}`,
        unit: "MiB",
        better: "lower",
        ours: summary(s).rssMiB,
        baseline: base.rssMiB,
      });
    }
    return {
      metrics,
      details: {
        runs,
        idleMs,
        serverCpu,
        samples: Object.fromEntries(samples),
        node: process.version,
      },
      notes: [
        `Each service bundled by scripts/bundle.ts and run as \`node main.mjs\` with NODE_ENV=production on the embedded backends; the baseline is a bare @grpc/grpc-js server with grpc-health-check, bundled by esbuild with the same settings. Medians of ${runs} run(s), alternating.`,
        `Cold start: spawn to the first grpc.health.v1 Check answering SERVING (a fresh channel every 5 ms). Idle RSS: VmRSS after ${idleMs / 1000} s of idle SERVING.`,
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Bundles grpc-health-server.ts the way scripts/bundle.ts bundles a service (one ESM file,
 * platform node, target node22, a real `require` and `__dirname` for the CommonJS inside).
 * grpc-health-check loads its .proto at runtime from `__dirname/../../proto`, so the package's
 * proto directory goes where that resolves, as an image of such a server would have to ship it.
 */
async function bundleBaseline(out: string): Promise<string> {
  const outfile = join(out, "grpc-baseline", "main.mjs");
  await build({
    entryPoints: [join(repoRoot, "bench/cold-start/grpc-health-server.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    banner: {
      js: [
        'import { createRequire as __createRequire } from "node:module";',
        'import { dirname as __dirnameOf } from "node:path";',
        'import { fileURLToPath as __fileURLToPath } from "node:url";',
        "const require = __createRequire(import.meta.url);",
        "const __filename = __fileURLToPath(import.meta.url);",
        "const __dirname = __dirnameOf(__filename);",
      ].join("\n"),
    },
    legalComments: "external",
    minify: false,
    logLevel: "warning",
    absWorkingDir: repoRoot,
  });
  await cp(
    join(repoRoot, "node_modules/grpc-health-check/proto"),
    join(dirname(dirname(dirname(outfile))), "proto"),
    { recursive: true },
  );
  return outfile;
}

async function coldStart(bundle: string, env: NodeJS.ProcessEnv, idleMs: number): Promise<Sample> {
  const port = await freePort();
  const t0 = performance.now();
  const child = launch(process.execPath, [bundle], {
    cpu: serverCpu,
    env: { ...env, PORT: String(port) },
    cwd: dirname(bundle),
    stdout: "ignore",
  });
  try {
    await untilServing(port, child);
    const startMs = performance.now() - t0;
    await sleep(idleMs);
    if (!child.alive()) throw new Error(`${bundle} exited while idle\n${child.stderr()}`);
    const rssMiB = (await rssBytes(child.pid)) / 2 ** 20;
    return { startMs, rssMiB };
  } finally {
    await child.stop();
  }
}

type HealthClient = grpc.Client & {
  check(
    req: { service: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): void;
};
const HealthClientCtor = grpc.makeGenericClientConstructor(
  healthService as unknown as grpc.ServiceDefinition,
  "Health",
) as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => HealthClient;

/** True once Check("") answers SERVING; a fresh channel per attempt (see the file comment). */
function checkServing(port: number): Promise<boolean> {
  const client = new HealthClientCtor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<boolean>((resolve) => {
    client.check({ service: "" }, { deadline: Date.now() + 1_000 }, (err, res) => {
      client.close();
      resolve(err === null && res?.status === "SERVING");
    });
  });
}

async function untilServing(port: number, child: Launched): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await checkServing(port)) return;
    if (!child.alive()) throw new Error(`process exited before SERVING\n${child.stderr()}`);
    if (Date.now() > deadline) throw new Error(`not SERVING after 60 s\n${child.stderr()}`);
    await sleep(5);
  }
}
