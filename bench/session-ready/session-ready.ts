/**
 * Benchmark 2, session ready: CreateSession (wait_timeout 60 s) on session-controller until the
 * endpoint it returns answers an RDP X.224 Connection Confirm, against the floor: spawning
 * `xrdp --nodaemon --port tcp://127.0.0.1:P --config <ini>` until its port answers the same probe.
 *
 * Ours runs on the real mesh (packages/testing/src/mesh.ts: redis-server, FerretDB, server-manager,
 * session-controller and one xrdp-integration node running real xrdp, each a process), because
 * that is what a user deploys: the path crosses three services, MongoDB-wire writes, Redis port
 * leases and the xrdp supervisor, which the embedded stores would leave out. The baseline's ini
 * is rendered by xrdp-integration's own renderer with a certificate from its own TLS helper, so
 * both start the same xrdp with the same configuration; both use the repo's RDP probe
 * (services/xrdp-integration/src/host/rdp-probe.ts) every 5 ms. Each session is terminated and
 * gone (TERMINATED) before the next run; runs alternate ours/baseline after one warm-up of each.
 */
import { generateKeyPair, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type ServerManagerService,
  SessionControllerService,
  SessionState,
  type XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { startMesh } from "@lucid-rdp/testing";
import {
  defaultFloor,
  defaultSettings,
  ensureTlsMaterial,
  instancePaths,
  probeUntilReady,
  resolveSettings,
  writeXrdpIni,
} from "@lucid-rdp/xrdp-integration";
import { freePort, launch, requireTool, sleep } from "../lib/proc.js";
import type { BenchmarkOutput } from "../lib/report.js";
import { percentile } from "../lib/stats.js";

const probeIntervalMs = 5;
const generateKeyPairAsync = promisify(generateKeyPair);

interface OursRun {
  readonly totalMs: number;
  /** CreateSession's own duration: until the controller answered READY. */
  readonly createMs: number;
  /** Where the time went, from the records' timestamps (see {@link phasesOf}). */
  readonly phases: Record<Phase, number>;
}

/**
 * The steps of a session's way to ready, each ending at a timestamp the services record (all on
 * this host's clock, in milliseconds): the session record, the server record (after placement and
 * the Redis port lease), the instance record (after the hop to xrdp-integration, the instance's
 * TLS key, taken from its pool of ready keys or generated when the pool is empty, and its ini),
 * xrdp's spawn, xrdp's readiness as xrdp-integration saw it (its probe runs every 100 ms),
 * CreateSession's answer (on the way back, StartInstance, CreateServer and CreateSession each wake
 * on their record's event on the bus, then re-read it), and this benchmark's own probe of the
 * endpoint.
 */
const phases = [
  "request to session record",
  "session record to server record (placement, port lease)",
  "server record to instance record (hop, TLS key from the pool or generated, ini)",
  "instance record to xrdp spawned",
  "xrdp spawned to ready (xrdp-integration's 100 ms probe)",
  "instance ready to CreateSession answer (event-woken waits on the way back)",
  "answer to endpoint probed",
] as const;
type Phase = (typeof phases)[number];

export async function runSessionReady(opts: { quick: boolean }): Promise<BenchmarkOutput> {
  const runs = opts.quick ? 3 : 20;
  const xrdp = requireTool("xrdp", "apt-get install -y xrdp");
  const openssl = requireTool("openssl", "apt-get install -y openssl");
  const dir = await mkdtemp(join(tmpdir(), "lucid-bench-ready-"));
  const meshStarted = performance.now();
  const mesh = await startMesh({
    sessionController: true,
    xrdpNodes: 1,
    // Terminated sessions free their server at once, so each run starts from an idle node.
    env: { SERVER_MANAGER_DELETE_GRACE_MS: "0", SESSION_TIMER_INTERVAL_MS: "200" },
  });
  const meshStartMs = performance.now() - meshStarted;
  try {
    const sc = mesh.sessionControllers[0];
    if (sc === undefined) throw new Error("the mesh started no session-controller");
    // A client of our own: the mesh helper's clients have a short default deadline.
    const client = createClient(
      SessionControllerService,
      createGrpcTransport({ baseUrl: sc.url, defaultTimeoutMs: 120_000 }),
    );

    const tls = await ensureTlsMaterial(join(dir, "tls"), { commonName: "localhost", openssl });
    const settings = {
      ...resolveSettings({}, defaultSettings, defaultFloor),
      tlsCertPath: tls.certPath,
      tlsKeyPath: tls.keyPath,
    };

    const ours: OursRun[] = [];
    const lookups = {
      server: mesh.serverManager(0, { timeoutMs: 10_000 }),
      xrdp: mesh.xrdp(0, { timeoutMs: 10_000 }),
    };
    const base: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const o = await oursOnce(client, lookups, `bench-ready-${i}`).catch((e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n${mesh.logs(40)}`);
      });
      const b = await baselineOnce(xrdp, dir, settings);
      // Run 0 is the warm-up of each.
      if (i > 0) {
        ours.push(o);
        base.push(b);
      }
    }
    const totals = ours.map((r) => r.totalMs);
    const phaseMedians = Object.fromEntries(
      phases.map((p) => [
        p,
        percentile(
          ours.map((r) => r.phases[p]),
          50,
        ),
      ]),
    ) as Record<Phase, number>;
    // Each new instance gets its own RSA-3072 key (tls-material.ts), from xrdp-integration's pool
    // of ready keys when it has one: timed alone here, since generating one is the biggest single
    // step of ours that the baseline (a ready-made certificate) skips whenever the pool is empty.
    const keygenMs: number[] = [];
    for (let i = 0; i < (opts.quick ? 1 : 5); i++) {
      const t = performance.now();
      await generateKeyPairAsync("rsa", { modulusLength: 3072 });
      keygenMs.push(performance.now() - t);
    }
    return {
      metrics: [
        {
          name: "session ready p50 (CreateSession to RDP Connection Confirm)",
          unit: "ms",
          better: "lower",
          ours: percentile(totals, 50),
          baseline: percentile(base, 50),
          headline: true,
        },
        {
          name: "session ready p95",
          unit: "ms",
          better: "lower",
          ours: percentile(totals, 95),
          baseline: percentile(base, 95),
        },
      ],
      details: {
        runs,
        warmupRuns: 1,
        probeIntervalMs,
        meshStartMs,
        ours,
        baselineMs: base,
        rsa3072KeygenMs: keygenMs,
        phaseP50Ms: phaseMedians,
        createSessionP50Ms: percentile(
          ours.map((r) => r.createMs),
          50,
        ),
      },
      notes: [
        `Ours: the real mesh (redis-server, FerretDB, server-manager, session-controller, one xrdp-integration node; started in ${Math.round(meshStartMs / 1000)} s, not counted), CreateSession with wait_timeout 60 s, then the repo's RDP probe on the endpoint returned. Baseline: spawn xrdp with an ini rendered by xrdp-integration's renderer until the same probe passes. ${runs} runs each after one warm-up, alternating.`,
        `Where ours spends its time (medians, from the session, server and instance records' timestamps): ${phases.map((p) => `${p} ${Math.round(phaseMedians[p])} ms`).join("; ")}.`,
        `An RSA-3072 key, which each new instance takes from xrdp-integration's pool of ready keys (XRDP_TLS_KEY_POOL, default 2) or generates when the pool is empty, took a median of ${Math.round(percentile(keygenMs, 50))} ms when timed alone in this run (${keygenMs.map((k) => Math.round(k)).join(", ")} ms: a prime search, hence the variance); the baseline's ready-made certificate skips it.`,
      ],
    };
  } finally {
    await mesh.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function oursOnce(
  client: Client<typeof SessionControllerService>,
  lookups: {
    server: Client<typeof ServerManagerService>;
    xrdp: Client<typeof XrdpIntegrationService>;
  },
  user: string,
): Promise<OursRun> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const res = await client.createSession({
    requestId: randomUUID(),
    user,
    waitTimeout: { seconds: 60n },
  });
  const createMs = performance.now() - t0;
  const s = res.session;
  const endpoint = s?.connectInfo?.endpoint;
  if (s === undefined || s.state !== SessionState.READY || endpoint === undefined) {
    throw new Error(
      `CreateSession did not return a READY session with an endpoint: state ${s?.state}, ${s?.stateMessage ?? ""}`,
    );
  }
  const probe = await probeUntilReady(endpoint.host, endpoint.port, {
    deadlineMs: 30_000,
    intervalMs: probeIntervalMs,
  });
  const totalMs = performance.now() - t0;
  if (!probe.ok) throw new Error(`the session's endpoint never answered: ${probe.reason}`);

  // Not timed: the records' timestamps, for the breakdown.
  const server = (await lookups.server.getServer({ serverId: s.serverId })).server;
  const instance = (await lookups.xrdp.getInstance({ instanceId: server?.instanceId ?? "" }))
    .instance;
  const ms = (t: Timestamp | undefined) => (t === undefined ? Number.NaN : timestampMs(t));
  const marks = [
    wall0,
    ms(s.createTime),
    ms(server?.createTime),
    ms(instance?.createTime),
    ms(instance?.processStartTime),
    ms(instance?.readyTime),
    wall0 + createMs,
    wall0 + totalMs,
  ];
  const phaseMs = Object.fromEntries(
    phases.map((p, k) => [p, (marks[k + 1] as number) - (marks[k] as number)]),
  ) as Record<Phase, number>;

  // Not timed: end the session and wait until its server is gone.
  await client.terminateSession({ sessionId: s.id, reason: "benchmark run over" });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await client.getSession({ sessionId: s.id });
    if (got.session?.state === SessionState.TERMINATED) break;
    if (Date.now() > deadline) throw new Error(`session ${s.id} not TERMINATED after 60 s`);
    await sleep(100);
  }
  return { totalMs, createMs, phases: phaseMs };
}

async function baselineOnce(
  xrdp: string,
  dir: string,
  settings: Parameters<typeof writeXrdpIni>[1]["settings"],
): Promise<number> {
  const id = randomUUID();
  const paths = instancePaths(dir, id);
  await mkdir(paths.dir, { mode: 0o700 });
  const port = await freePort();
  await writeXrdpIni(paths.xrdpIni, {
    instanceId: id,
    instanceDir: paths.dir,
    listenAddress: "127.0.0.1",
    port,
    settings,
    owner: "lucidbench",
    sesmanAddress: "127.0.0.1",
  });
  const t0 = performance.now();
  const child = launch(
    xrdp,
    ["--nodaemon", "--port", `tcp://127.0.0.1:${port}`, "--config", paths.xrdpIni],
    { stdout: "ignore" },
  );
  try {
    const probe = await probeUntilReady("127.0.0.1", port, {
      deadlineMs: 30_000,
      intervalMs: probeIntervalMs,
    });
    const ms = performance.now() - t0;
    if (!probe.ok) throw new Error(`bare xrdp never answered: ${probe.reason}\n${child.stderr()}`);
    return ms;
  } finally {
    await child.stop();
  }
}
