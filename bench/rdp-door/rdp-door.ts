/**
 * Benchmark 6, the RDP front door (issue 18): what relaying a connection through the door costs,
 * against connecting straight to the same upstream.
 *
 * The door is xrdp-integration's RdpDoor on packages/runtime's startServer (a raw protocol on the
 * one port, as the service serves it), in a process of its own (bench/rdp-door/door-server.ts);
 * its lookup maps a few fixed tokens to the upstreams below. Nothing is pinned: on a node the
 * door shares the cores with xrdp, and the scheduler spreads the three processes over them.
 *
 * - Bulk throughput: loopback stand-ins for xrdp's data path (stand-in-xrdp.ts), in a process of
 *   their own as xrdp is (stand-in-server.ts), answer the first packet with xrdp's Confirm and
 *   then stream: a source sends N MiB to the client, a sink takes N MiB from it. The client
 *   (bulk-client.ts) runs in this process. Direct, the bytes cross one process boundary; through
 *   the door, two: the door's relaying is all the door path adds. Door and direct runs alternate (which goes first alternates too), after a warm-up
 *   of each; the figure is bytes over seconds, from the Confirm to the last byte.
 * - Added connect latency: a real xrdp, spawned as benchmark 2's baseline spawns it, probed with
 *   the repo's RDP probe from connect to its X.224 Connection Confirm, through the door (with the
 *   token) and direct, alternating; the probe's sign-off after the Confirm is not timed. xrdp
 *   forks a process per connection before it answers, which makes these samples vary by
 *   milliseconds; the same handshake against a stand-in that answers at once shows the door's
 *   own share with less noise.
 *
 * Headline: bulk throughput through the door over direct, both directions together (issue 18's
 * target: >= 0.9x). The connect latency's target is a difference (the door adds <= 1 ms at p50),
 * printed beside the ratio.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  defaultFloor,
  defaultSettings,
  ensureTlsMaterial,
  instancePaths,
  probeRdp,
  probeUntilReady,
  resolveSettings,
  writeXrdpIni,
} from "@lucid-rdp/xrdp-integration";
import {
  freePort,
  type Launched,
  launch,
  launchTs,
  repoRoot,
  requireTool,
  sleep,
  waitForPort,
} from "../lib/proc.js";
import type { BenchmarkOutput, Metric } from "../lib/report.js";
import { percentile } from "../lib/stats.js";
import { download, handshake, upload } from "./bulk-client.js";

const mib = 1024 * 1024;
/** Issue 18's targets for the door. */
const targets = { throughputRatio: 0.9, addedConnectMs: 1 } as const;

type Path = "door" | "direct";
/** The bare relay (bare-relay.ts): a reference point beside door and direct, not a baseline. */
type Reference = "bare relay";
type Direction = "download" | "upload";

export async function runRdpDoor(opts: { quick: boolean }): Promise<BenchmarkOutput> {
  const xrdpBin = requireTool("xrdp", "apt-get install -y xrdp");
  const openssl = requireTool("openssl", "apt-get install -y openssl");
  const rounds = opts.quick ? 3 : 10;
  const transferMiB = opts.quick ? 32 : 128;
  const probes = opts.quick ? 15 : 100;
  const handshakes = opts.quick ? 50 : 300;
  const warmups = 3;
  const bytes = transferMiB * mib;
  const loadAtStart = loadavg()[0] ?? 0;

  const dir = await mkdtemp(join(tmpdir(), "lucid-bench-door-"));
  let upstreams: Launched | undefined;
  let xrdp: Launched | undefined;
  let door: Launched | undefined;
  let bare: Launched | undefined;
  try {
    upstreams = launchTs(join(repoRoot, "bench", "rdp-door", "stand-in-server.ts"), [], {
      stdout: "ignore",
      env: { ...process.env, BENCH_TRANSFER_BYTES: String(bytes) },
    });
    const ready = await readyLine(upstreams, /^ready source=(\d+) sink=(\d+) confirm=(\d+)$/m);
    const [source, sink, confirmer] = ready.slice(1, 4).map((p) => ({ port: Number(p) }));
    if (source === undefined || sink === undefined || confirmer === undefined) {
      throw new Error(`the stand-ins said: ${ready[0]}`);
    }
    const xrdpPort = await startXrdp(dir, xrdpBin, openssl, (l) => {
      xrdp = l;
    });

    const token = () => `lr1-${randomBytes(24).toString("base64url")}`;
    const tokens = { download: token(), upload: token(), confirm: token(), xrdp: token() };
    const doorPort = await freePort();
    door = launchTs(join(repoRoot, "bench", "rdp-door", "door-server.ts"), [], {
      stdout: "ignore",
      env: {
        ...process.env,
        PORT: String(doorPort),
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        BENCH_DOOR_ROUTES: [
          `${tokens.download}=${source.port}`,
          `${tokens.upload}=${sink.port}`,
          `${tokens.confirm}=${confirmer.port}`,
          `${tokens.xrdp}=${xrdpPort}`,
        ].join(","),
      },
    });
    await waitForPort(doorPort, door, 60_000);
    await readyLine(door, /^ready \d+$/m);
    bare = launchTs(join(repoRoot, "bench", "rdp-door", "bare-relay.ts"), [], {
      stdout: "ignore",
      env: { ...process.env, BENCH_RELAY_UPSTREAMS: `${source.port},${sink.port}` },
    });
    const bareReady = (await readyLine(bare, /^ready .*$/m))[0];
    const bareRelayPort = (upstream: number) => {
      const m = new RegExp(` ${upstream}=(\\d+)`).exec(bareReady);
      if (m === null) throw new Error(`the bare relay said: ${bareReady}`);
      return Number(m[1]);
    };
    const bareDownload = bareRelayPort(source.port);
    const bareUpload = bareRelayPort(sink.port);
    /** Where each path connects to reach `upstream`, and with which token. */
    const via = (path: Path, upstream: keyof typeof tokens, port: number) =>
      path === "door" ? { port: doorPort, token: tokens[upstream] } : { port, token: undefined };

    // Throughput: a warm-up round, then `rounds` rounds, door and direct alternating (and which
    // of them goes first, too).
    const seconds: Record<Direction, Record<Path | Reference, number[]>> = {
      download: { door: [], direct: [], "bare relay": [] },
      upload: { door: [], direct: [], "bare relay": [] },
    };
    for (let round = 0; round <= rounds; round++) {
      for (const d of ["download", "upload"] as const) {
        const transfer = d === "download" ? download : upload;
        for (const path of orderOf(round)) {
          const t = via(path, d, d === "download" ? source.port : sink.port);
          const sec = await transfer(t.port, t.token, bytes);
          if (round > 0) seconds[d][path].push(sec);
        }
        const sec = await transfer(d === "download" ? bareDownload : bareUpload, undefined, bytes);
        if (round > 0) seconds[d]["bare relay"].push(sec);
      }
    }

    // Connect to Confirm: the real xrdp (the probe, sign-off untimed), then the confirm stand-in.
    const xrdpMs = await alternate(warmups, probes, (path) => {
      const t = via(path, "xrdp", xrdpPort);
      return timeToConfirm(t.port, t.token);
    });
    const standInMs = await alternate(warmups, handshakes, (path) => {
      const t = via(path, "confirm", confirmer.port);
      return handshake(t.port, t.token);
    });

    const problems = upstreams
      .stderr()
      .split("\n")
      .filter((l) => l.startsWith("problem: "));
    if (problems.length > 0) throw new Error(`the stand-ins saw:\n${problems.join("\n")}`);

    const mibPerS = (d: Direction, path: Path | Reference) =>
      percentile(
        seconds[d][path].map((sec) => transferMiB / sec),
        50,
      );
    const pairedRatio = (d: Direction) =>
      percentile(
        seconds[d].door.map((sec, i) => (seconds[d].direct[i] as number) / sec),
        50,
      );
    const bothWays = (path: Path | Reference) =>
      Math.sqrt(mibPerS("download", path) * mibPerS("upload", path));
    const ratio = bothWays("door") / bothWays("direct");
    const added = (ms: Record<Path, number[]>) =>
      percentile(ms.door, 50) - percentile(ms.direct, 50);
    const pairedAdded = (ms: Record<Path, number[]>) =>
      percentile(
        ms.door.map((v, i) => v - (ms.direct[i] as number)),
        50,
      );
    const addedMs = added(xrdpMs);
    const lines = [
      `bulk throughput door/direct ${ratio.toFixed(2)}x against >= ${targets.throughputRatio}x: ${ratio >= targets.throughputRatio ? "met" : "NOT met"}`,
      `added connect latency to xrdp's Confirm (p50 door - p50 direct) ${addedMs.toFixed(2)} ms against <= ${targets.addedConnectMs} ms: ${addedMs <= targets.addedConnectMs ? "met" : "NOT met"} (to a stand-in without xrdp's fork: ${added(standInMs).toFixed(2)} ms)`,
    ];
    for (const l of lines) process.stdout.write(`rdp-door: target: ${l}\n`);
    const connect = (name: string, ms: Record<Path, number[]>, q: number): Metric => ({
      name,
      unit: "ms",
      better: "lower",
      ours: percentile(ms.door, q),
      baseline: percentile(ms.direct, q),
    });
    const throughput = (name: string, ours: number, baseline: number): Metric => ({
      name,
      unit: "MiB/s",
      better: "higher",
      ours,
      baseline,
    });
    return {
      metrics: [
        {
          ...throughput(
            `bulk throughput through the door vs direct, both directions (target >= ${targets.throughputRatio}x)`,
            bothWays("door"),
            bothWays("direct"),
          ),
          headline: true,
        },
        throughput(
          "bulk throughput upstream to client, door vs direct",
          mibPerS("download", "door"),
          mibPerS("download", "direct"),
        ),
        throughput(
          "bulk throughput client to upstream, door vs direct",
          mibPerS("upload", "door"),
          mibPerS("upload", "direct"),
        ),
        connect(
          `connect to xrdp's Connection Confirm p50, door vs direct (target: door adds <= ${targets.addedConnectMs} ms)`,
          xrdpMs,
          50,
        ),
        connect("connect to xrdp's Connection Confirm p99, door vs direct", xrdpMs, 99),
        connect("connect to a stand-in's Connection Confirm p50, door vs direct", standInMs, 50),
      ],
      details: {
        rounds,
        warmupRounds: 1,
        transferMiB,
        throughputSeconds: seconds,
        bareRelayMiBPerS: {
          download: mibPerS("download", "bare relay"),
          upload: mibPerS("upload", "bare relay"),
          bothWays: bothWays("bare relay"),
        },
        pairedThroughputRatioP50: {
          download: pairedRatio("download"),
          upload: pairedRatio("upload"),
        },
        probes,
        handshakes,
        warmups,
        connectToXrdpMs: xrdpMs,
        connectToStandInMs: standInMs,
        addedConnectMs: {
          xrdpP50Difference: addedMs,
          xrdpPairedP50: pairedAdded(xrdpMs),
          standInP50Difference: added(standInMs),
          standInPairedP50: pairedAdded(standInMs),
        },
        loadAverage1m: { start: loadAtStart, end: loadavg()[0] ?? 0 },
        targets,
      },
      notes: [
        `The door: RdpDoor on startServer (raw protocol 0x03 on the one port), in a process of its own, per-source limits raised (every connection comes from 127.0.0.1); nothing pinned. Throughput: loopback stand-ins for xrdp's data path, in a process of their own, answer the Connection Request with xrdp's Confirm, then send or take ${transferMiB} MiB; the client in the benchmark's process; ${rounds} rounds of each direction after a warm-up, door and direct alternating. Per direction: the medians; both directions: the geometric mean of the two medians. Medians of the per-round door/direct ratios: upstream to client ${pairedRatio("download").toFixed(2)}x, client to upstream ${pairedRatio("upload").toFixed(2)}x.`,
        `Reference point, not a baseline: a bare Node relay (net server, connect, pipe both ways, nothing else; bare-relay.ts), measured in the same rounds: ${Math.round(bothWays("bare relay"))} MiB/s both ways, ${(bothWays("bare relay") / bothWays("direct")).toFixed(2)}x of direct; the door reached ${(bothWays("door") / bothWays("bare relay")).toFixed(2)}x of it.`,
        `Connect latency: a real xrdp (spawned as benchmark 2's baseline spawns it, security_layer=tls, a fork per connection), the repo's RDP probe from connect to the Confirm (its sign-off untimed), ${probes} probes each after ${warmups} warm-ups, alternating; through the door with the token. Door minus direct: p50s ${addedMs.toFixed(2)} ms, median of adjacent pairs ${pairedAdded(xrdpMs).toFixed(2)} ms. The same against the confirm stand-in (no fork, ${handshakes} handshakes each): p50s ${added(standInMs).toFixed(2)} ms, pairs ${pairedAdded(standInMs).toFixed(2)} ms.`,
        `Issue 18's targets: ${lines.join("; ")}. Load average (1 min) ${loadAtStart.toFixed(1)} at the start of this benchmark.`,
      ],
    };
  } finally {
    await bare?.stop();
    await door?.stop();
    await xrdp?.stop();
    await upstreams?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Door first in even rounds, direct first in odd ones: neither always follows the other. */
function orderOf(round: number): Path[] {
  return round % 2 === 0 ? ["door", "direct"] : ["direct", "door"];
}

/** `warmups` + `n` rounds of one sample of each path, alternating; the warm-ups are dropped. */
async function alternate(
  warmups: number,
  n: number,
  sample: (path: Path) => Promise<number>,
): Promise<Record<Path, number[]>> {
  const out: Record<Path, number[]> = { door: [], direct: [] };
  for (let i = 0; i < warmups + n; i++) {
    for (const path of orderOf(i)) {
      const v = await sample(path);
      if (i >= warmups) out[path].push(v);
    }
  }
  return out;
}

/**
 * Spawns xrdp with an ini from xrdp-integration's renderer and a certificate from its TLS helper,
 * as benchmark 2's baseline does, and waits until it answers a Confirm; resolves its port.
 */
async function startXrdp(
  dir: string,
  xrdpBin: string,
  openssl: string,
  started: (l: Launched) => void,
): Promise<number> {
  const tls = await ensureTlsMaterial(join(dir, "tls"), { commonName: "localhost", openssl });
  const settings = {
    ...resolveSettings({}, defaultSettings, defaultFloor),
    tlsCertPath: tls.certPath,
    tlsKeyPath: tls.keyPath,
  };
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
  const child = launch(
    xrdpBin,
    ["--nodaemon", "--port", `tcp://127.0.0.1:${port}`, "--config", paths.xrdpIni],
    { stdout: "ignore" },
  );
  started(child);
  const ready = await probeUntilReady("127.0.0.1", port, { deadlineMs: 30_000, intervalMs: 20 });
  if (!ready.ok) throw new Error(`xrdp never answered: ${ready.reason}\n${child.stderr()}`);
  return port;
}

/** Milliseconds from the probe's start (its TCP connect) to the Confirm; throws on any failure. */
async function timeToConfirm(port: number, routingToken: string | undefined): Promise<number> {
  let confirmedAt: number | undefined;
  const t0 = performance.now();
  const r = await probeRdp("127.0.0.1", port, {
    timeoutMs: 10_000,
    routingToken,
    onConfirm: () => {
      confirmedAt = performance.now();
    },
  });
  if (!r.ok || confirmedAt === undefined) {
    throw new Error(
      `probe of 127.0.0.1:${port}${routingToken === undefined ? "" : " through the door"} failed: ${r.ok ? "no Confirm" : r.reason}`,
    );
  }
  return confirmedAt - t0;
}

/** Waits for the "ready ..." line a child writes to stderr; resolves its match. */
async function readyLine(child: Launched, line: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = line.exec(child.stderr());
    if (m !== null) return m;
    if (!child.alive() || Date.now() > deadline) {
      throw new Error(`process ${child.pid} never said "ready"\n${child.stderr()}`);
    }
    await sleep(20);
  }
}
