/**
 * Benchmark 2, session ready: CreateSession (wait_timeout 60 s) on session-controller until the
 * endpoint it returns answers an RDP X.224 Connection Confirm, against the floor: spawning
 * `xrdp --nodaemon --port tcp://127.0.0.1:P --config <ini>` until its port answers the same probe
 * with a Confirm.
 *
 * Ours runs on the real mesh (packages/testing/src/mesh.ts: redis-server, FerretDB, server-manager,
 * session-controller and xrdp-integration nodes running real xrdp, each a process), because that
 * is what a user deploys: the path crosses three services, MongoDB-wire writes and the xrdp
 * supervisor, which the embedded stores would leave out. The mesh has three nodes, one per way a
 * session can be made ready (issue 18), and each phase drains the other two so that placement
 * picks its node:
 *
 * - "warm": RDP_DOOR=on, WARM_POOL_SIZE=2. Before each run the benchmark waits until the node's
 *   GetHostInfo says warm_pool_ready >= 1 (the pool refills in the background between runs), so
 *   the run measures a hand-out. The probe goes to the endpoint returned (the node's front door)
 *   with the session's connect_info.routing_token in its Connection Request, as a client's .rdp file
 *   makes it send.
 * - "cold": RDP_DOOR=on, WARM_POOL_SIZE=0: the same door, an xrdp started for the session.
 * - "per-port": RDP_DOOR=off, a port per session (what issue 10 measured).
 *
 * The door nodes' per-source connect limits are raised: every probe comes from 127.0.0.1, and the
 * limits are not what is measured. The baseline's ini is rendered by xrdp-integration's own
 * renderer with a certificate from its own TLS helper, so both start the same xrdp with the same
 * configuration; both use the repo's RDP probe (services/xrdp-integration/src/host/rdp-probe.ts)
 * every 5 ms, and the time stops at the Confirm (the probe's sign-off after it, some 50 ms of TLS
 * and login screen, is not counted for either). Each session is terminated and gone (TERMINATED)
 * before the next run; within a phase runs alternate ours/baseline after one warm-up of each, and
 * every ratio is against the baseline runs of all phases together.
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
import { type Mesh, startMesh, waitFor } from "@lucid-rdp/testing";
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
import type { BenchmarkOutput, Metric } from "../lib/report.js";
import { percentile } from "../lib/stats.js";

const probeIntervalMs = 5;
const generateKeyPairAsync = promisify(generateKeyPair);

/** Issue 18's targets for a session made ready from a warm pool, through the door. */
const targets = { p50Ms: 25, p99Ms: 100 } as const;

/** The three ways a session is made ready, each on its own node of the mesh. */
const modes = {
  warm: {
    node: 0,
    title: "warm pool, through the door",
    env: { RDP_DOOR: "on", WARM_POOL_SIZE: "2" },
  },
  cold: {
    node: 1,
    title: "empty pool (cold), through the door",
    env: { RDP_DOOR: "on", WARM_POOL_SIZE: "0" },
  },
  "per-port": {
    node: 2,
    title: "a port per session (RDP_DOOR=off)",
    env: { RDP_DOOR: "off" },
  },
} as const;
type Mode = keyof typeof modes;
const modeOrder: readonly Mode[] = ["warm", "cold", "per-port"];

/** Probes come from one address; the door's per-source limits are not what is measured. */
const unlimitedDoor = { RDP_DOOR_RATE_PER_MINUTE: "100000", RDP_DOOR_BURST: "100000" };

interface OursRun {
  /** CreateSession's call until the endpoint's Connection Confirm. */
  readonly totalMs: number;
  /** CreateSession's own duration: until the controller answered READY. */
  readonly createMs: number;
  /** Whether the probe carried a routing token (the session's node has a door). */
  readonly routed: boolean;
  /** Where the time went, from the records' timestamps (see {@link phases}). */
  readonly phases: Record<Phase, number>;
  /** The same run split at the session's and server's own marks only (see {@link chain}). */
  readonly chain: Record<ChainStep, number>;
  /**
   * Other xrdp processes the node spawned between the request and the Confirm (a warm pool's
   * refill after the hand-out, competing for the cores with the rest of the run).
   */
  readonly otherSpawnsDuringRun: number;
}

/**
 * The steps of a session's way to ready, each ending at a timestamp the services record (all on
 * this host's clock, in milliseconds): the session record, the server record (after placement and,
 * without a door, the Redis port lease), the instance record (after the hop to xrdp-integration,
 * the instance's TLS key, taken from its pool of ready keys or generated when the pool is empty,
 * and its ini), xrdp's spawn, xrdp's readiness as xrdp-integration saw it (its probe runs every
 * 100 ms), CreateSession's answer (on the way back, StartInstance, CreateServer and CreateSession
 * each wake on their record's event on the bus, then re-read it), and this benchmark's own probe
 * of the endpoint. A warm instance's record, spawn and readiness come before the request, so its
 * middle steps are negative: only the cold and per-port breakdowns are reported.
 */
const phases = [
  "request to session record",
  "session record to server record (placement, port lease)",
  "server record to instance record (hop, TLS key from the pool or generated, ini)",
  "instance record to xrdp spawned",
  "xrdp spawned to ready (xrdp-integration's 100 ms probe)",
  "instance ready to CreateSession answer (event-woken waits on the way back)",
  "answer to endpoint's Connection Confirm",
] as const;
type Phase = (typeof phases)[number];

/**
 * The run split at the marks of the session and server records only, which mean the same for a
 * warm hand-out as for a started instance: the server's READY follows StartInstance's answer,
 * whether that handed out a warm instance or started one.
 */
const chain = [
  "request to session record",
  "session record to server record (placement)",
  "server record to server READY (StartInstance: hand-out or start, and back)",
  "server READY to session READY",
  "session READY to CreateSession answer",
  "answer to endpoint's Connection Confirm",
] as const;
type ChainStep = (typeof chain)[number];

export async function runSessionReady(opts: { quick: boolean }): Promise<BenchmarkOutput> {
  const runs = opts.quick ? 3 : 20;
  const xrdp = requireTool("xrdp", "apt-get install -y xrdp");
  const openssl = requireTool("openssl", "apt-get install -y openssl");
  const dir = await mkdtemp(join(tmpdir(), "lucid-bench-ready-"));
  const meshStarted = performance.now();
  const mesh = await startMesh({
    sessionController: true,
    xrdpNodes: modeOrder.length,
    // Terminated sessions free their server at once, so each run starts from an idle node.
    env: { SERVER_MANAGER_DELETE_GRACE_MS: "0", SESSION_TIMER_INTERVAL_MS: "200" },
    nodeEnv: (i) => {
      const mode = modeOrder.find((m) => modes[m].node === i);
      const env: Record<string, string> = mode === undefined ? {} : { ...modes[mode].env };
      return env.RDP_DOOR === "on" ? { ...env, ...unlimitedDoor } : env;
    },
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

    const serverManager = mesh.serverManager(0, { timeoutMs: 10_000 });
    const ours: Record<Mode, OursRun[]> = { warm: [], cold: [], "per-port": [] };
    const baseByMode: Record<Mode, number[]> = { warm: [], cold: [], "per-port": [] };
    /** Per warm run: how long the benchmark waited, untimed, for the pool to hold a READY instance. */
    const warmWaitMs: number[] = [];
    /** The node's lucid_rdp_door_* samples after its phase: refusals would explain slow probes. */
    const doorMetrics: Partial<Record<Mode, string[]>> = {};
    for (const mode of modeOrder) {
      await placeOn(mesh, modes[mode].node);
      const node = mesh.xrdp(modes[mode].node, { timeoutMs: 10_000 });
      const lookups = { server: serverManager, xrdp: node };
      for (let i = 0; i <= runs; i++) {
        if (mode === "warm") {
          const t = performance.now();
          await waitForWarmInstance(node, mesh);
          warmWaitMs.push(performance.now() - t);
        }
        const o = await oursOnce(client, lookups, `bench-${mode}-${i}`).catch((e: unknown) => {
          throw new Error(
            `${mode} run ${i}: ${e instanceof Error ? e.message : String(e)}\n${mesh.logs(40)}`,
          );
        });
        if (o.routed !== (modes[mode].env.RDP_DOOR === "on")) {
          throw new Error(
            `${mode} run ${i}: the session ${o.routed ? "had" : "had no"} routing token, on a node with RDP_DOOR=${modes[mode].env.RDP_DOOR}`,
          );
        }
        const b = await baselineOnce(xrdp, dir, settings);
        // Run 0 is the warm-up of each.
        if (i > 0) {
          ours[mode].push(o);
          baseByMode[mode].push(b);
        }
      }
      doorMetrics[mode] = await doorMetricsOf(mesh.nodes[modes[mode].node]?.server.url);
    }
    const base = modeOrder.flatMap((m) => baseByMode[m]);
    const totals = (m: Mode) => ours[m].map((r) => r.totalMs);
    const phaseMedians = (m: Mode) =>
      Object.fromEntries(
        phases.map((p) => [
          p,
          percentile(
            ours[m].map((r) => r.phases[p]),
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
    const p = (values: readonly number[], q: number) => percentile(values, q);
    const metric = (m: Mode, q: 50 | 99, extra: Partial<Metric> = {}): Metric => ({
      name: `session ready p${q}, ${modes[m].title}${m === "warm" ? ` (target <= ${q === 50 ? targets.p50Ms : targets.p99Ms} ms)` : ""}`,
      unit: "ms",
      better: "lower",
      ours: p(totals(m), q),
      baseline: p(base, q),
      ...extra,
    });
    const warmP50 = p(totals("warm"), 50);
    const warmP99 = p(totals("warm"), 99);
    const verdict = (v: number, target: number) =>
      `${Math.round(v * 10) / 10} ms against <= ${target} ms: ${v <= target ? "met" : "NOT met"}`;
    const breakdown = (m: Mode) => {
      const med = phaseMedians(m);
      return phases.map((ph) => `${ph} ${Math.round(med[ph])} ms`).join("; ");
    };
    const chainMedians = (m: Mode) =>
      Object.fromEntries(
        chain.map((c) => [
          c,
          percentile(
            ours[m].map((r) => r.chain[c]),
            50,
          ),
        ]),
      ) as Record<ChainStep, number>;
    const chainLine = (m: Mode) => {
      const med = chainMedians(m);
      return chain.map((c) => `${c} ${Math.round(med[c])} ms`).join("; ");
    };
    return {
      metrics: [
        metric("warm", 50, { headline: true }),
        metric("warm", 99),
        metric("cold", 50),
        metric("cold", 99),
        metric("per-port", 50),
        metric("per-port", 99),
      ],
      details: {
        runs,
        warmupRuns: 1,
        probeIntervalMs,
        meshStartMs,
        modes: Object.fromEntries(
          modeOrder.map((m) => [
            m,
            {
              nodeEnv: modes[m].env,
              runs: ours[m],
              baselineMs: baseByMode[m],
              phaseP50Ms: phaseMedians(m),
              chainP50Ms: chainMedians(m),
              doorMetrics: doorMetrics[m],
              createSessionP50Ms: p(
                ours[m].map((r) => r.createMs),
                50,
              ),
            },
          ]),
        ),
        baselineMs: base,
        warmPoolWaitMs: warmWaitMs,
        targets: { warmP50Ms: targets.p50Ms, warmP99Ms: targets.p99Ms, warmP50, warmP99 },
        rsa3072KeygenMs: keygenMs,
      },
      notes: [
        `Ours: the real mesh (redis-server, FerretDB, server-manager, session-controller, three xrdp-integration nodes; started in ${Math.round(meshStartMs / 1000)} s, not counted), CreateSession with wait_timeout 60 s, then the repo's RDP probe on the endpoint returned until its Connection Confirm (with the session's routing token behind the door). Baseline: spawn xrdp with an ini rendered by xrdp-integration's renderer until the same probe's Confirm. ${runs} runs of each way after one warm-up, each phase alternating with the baseline; every ratio is against all ${base.length} baseline runs. p99 of ${runs} runs is their slowest.`,
        `Warm: a node with RDP_DOOR=on and WARM_POOL_SIZE=2, the other nodes drained; before each run the benchmark waited (untimed; median ${Math.round(p(warmWaitMs, 50))} ms, longest ${Math.round(Math.max(...warmWaitMs))} ms) until the node's GetHostInfo said warm_pool_ready >= 1. Issue 18's targets: p50 ${verdict(warmP50, targets.p50Ms)}; p99 ${verdict(warmP99, targets.p99Ms)}.`,
        `Cold: the same door with WARM_POOL_SIZE=0. Per-port: RDP_DOOR=off, as before issue 18. The door nodes ran with RDP_DOOR_RATE_PER_MINUTE and RDP_DOOR_BURST at 100000: every probe comes from 127.0.0.1.`,
        `Where the warm run spends its time (medians, from the session's and server's timestamps): ${chainLine("warm")}. In ${ours.warm.filter((r) => r.otherSpawnsDuringRun > 0).length} of ${ours.warm.length} warm runs the node spawned another xrdp (the pool's refill) between the request and the Confirm. The same for the cold run: ${chainLine("cold")}; per-port: ${chainLine("per-port")}.`,
        `Where the cold run spends its time (medians, from the session, server and instance records' timestamps): ${breakdown("cold")}.`,
        `Where the per-port run spends its time: ${breakdown("per-port")}.`,
        `An RSA-3072 key, which each new instance takes from xrdp-integration's pool of ready keys (XRDP_TLS_KEY_POOL, default 2) or generates when the pool is empty, took a median of ${Math.round(p(keygenMs, 50))} ms when timed alone in this run (${keygenMs.map((k) => Math.round(k)).join(", ")} ms: a prime search, hence the variance); the baseline's ready-made certificate skips it.`,
      ],
    };
  } finally {
    await mesh.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Drains every node of the mesh but node `index`, which it undrains: placement then picks it. */
async function placeOn(mesh: Mesh, index: number): Promise<void> {
  const sm = mesh.serverManager(0, { timeoutMs: 10_000 });
  for (const [i, node] of mesh.nodes.entries()) {
    if (i === index) await sm.undrainNode({ nodeId: node.nodeId });
    else await sm.drainNode({ nodeId: node.nodeId });
  }
}

/** The lucid_rdp_door_* samples of a node's /metrics (none without a door). */
async function doorMetricsOf(url: string | undefined): Promise<string[]> {
  if (url === undefined) return [];
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith("lucid_rdp_door_"));
}

/** Waits until the node's warm pool holds a READY instance (GetHostInfo's warm_pool_ready >= 1). */
async function waitForWarmInstance(
  node: Client<typeof XrdpIntegrationService>,
  mesh: Mesh,
): Promise<void> {
  await waitFor(
    "a READY instance in the node's warm pool (GetHostInfo warm_pool_ready >= 1)",
    async () => (await node.getHostInfo({})).hostInfo?.warmPoolReady ?? 0,
    { until: (ready) => ready >= 1, intervalMs: 10, timeoutMs: 60_000, logs: () => mesh.logs(40) },
  );
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
  const routingToken = s.connectInfo?.routingToken || undefined;
  let confirmedAt: number | undefined;
  const probe = await probeUntilReady(endpoint.host, endpoint.port, {
    deadlineMs: 30_000,
    intervalMs: probeIntervalMs,
    routingToken,
    onConfirm: () => {
      confirmedAt = performance.now();
    },
  });
  if (!probe.ok || confirmedAt === undefined) {
    throw new Error(
      `the session's endpoint ${endpoint.host}:${endpoint.port}${routingToken === undefined ? "" : " (with its routing token)"} never answered: ${probe.ok ? "no Confirm" : probe.reason}`,
    );
  }
  const totalMs = confirmedAt - t0;

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
  const chainMarks = [
    wall0,
    ms(s.createTime),
    ms(server?.createTime),
    ms(server?.readyTime),
    ms(s.readyTime),
    wall0 + createMs,
    wall0 + totalMs,
  ];
  const chainMs = Object.fromEntries(
    chain.map((c, k) => [c, (chainMarks[k + 1] as number) - (chainMarks[k] as number)]),
  ) as Record<ChainStep, number>;

  const others = (await lookups.xrdp.listInstances({ pageSize: 1000 })).instances.filter((i) => {
    const started = ms(i.processStartTime);
    return i.id !== instance?.id && started >= wall0 && started <= wall0 + totalMs;
  });

  // Not timed: end the session and wait until its server is gone.
  await client.terminateSession({ sessionId: s.id, reason: "benchmark run over" });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await client.getSession({ sessionId: s.id });
    if (got.session?.state === SessionState.TERMINATED) break;
    if (Date.now() > deadline) throw new Error(`session ${s.id} not TERMINATED after 60 s`);
    await sleep(100);
  }
  return {
    totalMs,
    createMs,
    routed: routingToken !== undefined,
    phases: phaseMs,
    chain: chainMs,
    otherSpawnsDuringRun: others.length,
  };
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
    let confirmedAt: number | undefined;
    const probe = await probeUntilReady("127.0.0.1", port, {
      deadlineMs: 30_000,
      intervalMs: probeIntervalMs,
      onConfirm: () => {
        confirmedAt = performance.now();
      },
    });
    if (!probe.ok || confirmedAt === undefined) {
      throw new Error(
        `bare xrdp never answered: ${probe.ok ? "no Confirm" : probe.reason}\n${child.stderr()}`,
      );
    }
    return confirmedAt - t0;
  } finally {
    await child.stop();
  }
}
