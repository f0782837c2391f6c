/**
 * The RDP front door with real processes: an RdpDoor on a runtime server's one port
 * (startServer with rawProtocols), a real xrdp 0.9.21 (security_layer=tls) behind it on loopback,
 * and a real xfreerdp under Xvfb. `/load-balance-info:<token> /sec:tls` reaches xrdp through the
 * door (xrdp logs the door's upstream port, which the door maps back to xfreerdp's own socket);
 * a bogus, missing or ended token is refused three times (FreeRDP retries twice) and nothing
 * reaches xrdp; the port still answers HTTP (/health, /metrics) beside RDP.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import {
  createLogger,
  type RunningServer,
  readRuntimeConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { findTool, rdpTools, skipOrFail, startXvfb, waitFor } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DoorConnection, type DoorRefusal, RdpDoor } from "../src/door/index.js";
import { probeUntilReady } from "../src/host/rdp-probe.js";
import { installXrdp, startTlsXrdp, type TlsXrdp } from "./support/tls-xrdp.js";

/** The client's Xvfb: clear of the other tests' (:91, :93 to :96). */
const clientDisplay = 92;
/** Longer than either program needs on a loaded machine; the tests wait for events, not time. */
const generousMs = 30_000;
const token = "lr1-door-test-0123456789abcdefghijKLMN";
const endedToken = "lr1-door-test-ended-0123456789abcdefgh";

describe("the RDP front door with xfreerdp and xrdp", () => {
  let xrdp: TlsXrdp | undefined;
  let stopXvfb: (() => void) | undefined;
  let server: RunningServer | undefined;
  let door: RdpDoor | undefined;
  const refusals: DoorRefusal[] = [];
  const opened: DoorConnection[] = [];

  beforeAll(async () => {
    if (rdpTools.xfreerdp === undefined || rdpTools.xvfb === undefined) return;
    xrdp = await startTlsXrdp("xrdp-door-");
    if (xrdp === undefined) return;
    const ready = await probeUntilReady("127.0.0.1", xrdp.port, {
      deadlineMs: generousMs,
      intervalMs: 100,
    });
    if (!ready.ok) throw new Error(`xrdp not ready: ${ready.reason}\n${xrdp.output()}`);
    stopXvfb = await startXvfb(clientDisplay);
    const port = xrdp.port;
    const logger = createLogger({
      service: "door-test",
      level: "info",
      destination: new PassThrough().resume(),
    });
    const running = new RdpDoor({
      logger,
      lookup: (t) =>
        t === token
          ? { kind: "route", instanceId: "inst-1", serverId: "srv-1", port }
          : t === endedToken
            ? { kind: "ended", instanceId: "inst-0" }
            : undefined,
      onRefused: (r) => refusals.push(r),
      onConnection: (e) => {
        if (e.type === "opened") opened.push(e.connection);
      },
    });
    door = running;
    server = await startServer({
      config: readRuntimeConfig({ serviceName: "door-test", port: 0 }, {}),
      logger,
      routes: () => {},
      services: [],
      rawProtocols: [running],
      onShutdown: () => running.close(),
    });
    running.attachMetrics(server.metrics);
  }, 120_000);

  afterAll(async () => {
    await server?.shutdown();
    stopXvfb?.();
    await xrdp?.stop();
  });

  function started(ctx: Parameters<typeof skipOrFail>[0]): {
    xrdp: TlsXrdp;
    server: RunningServer;
    door: RdpDoor;
  } {
    if (rdpTools.xfreerdp === undefined || rdpTools.xvfb === undefined) {
      skipOrFail(ctx, "xfreerdp or Xvfb missing: apt-get install -y freerdp2-x11 xvfb");
    }
    if (xrdp === undefined || server === undefined || door === undefined) {
      skipOrFail(ctx, `xrdp, openssl or /etc/xrdp/xrdp.ini missing: ${installXrdp}`);
    }
    return { xrdp, server, door };
  }

  it("relays xfreerdp with /load-balance-info:<token> to xrdp, which sees the door's port for the client's own", {
    timeout: 120_000,
  }, async (ctx) => {
    const { xrdp: x, server: s, door: d } = started(ctx);
    const client = xfreerdp(s.port, [`/load-balance-info:${token}`, "/sec:tls"]);
    try {
      const conn = await waitFor("the door relaying xfreerdp", () => opened[0], {
        timeoutMs: generousMs,
        logs: client.output,
      });
      expect(conn).toMatchObject({ instanceId: "inst-1", serverId: "srv-1" });
      expect(conn.peer.address).toBe("127.0.0.1");
      // xrdp's TLS handshake finished with the door's upstream port as the client's (the log also
      // holds the readiness probe's connection, from another port).
      const established = new RegExp(
        `TLS connection established from 127\\.0\\.0\\.1 port ${conn.upstreamLocalPort}:`,
      );
      await waitFor(
        `xrdp's 'TLS connection established from 127.0.0.1 port ${conn.upstreamLocalPort}'`,
        () => established.test(readFileSync(x.log, "utf8")),
        {
          until: (seen) => seen,
          timeoutMs: generousMs,
          logs: () => `${client.output()}\n${x.output()}\n${readFileSync(x.log, "utf8")}`,
        },
      );
      expect(d.peerOfUpstreamPort(conn.upstreamLocalPort)).toEqual(conn.peer);
      // The peer the door reports is xfreerdp's own socket: the kernel says so.
      const ss = findTool("ss", "apt-get install -y iproute2");
      if (ss !== undefined) {
        const sockets = execFileSync(ss, ["-tnpH", "state", "established"], { encoding: "utf8" });
        // Columns: Recv-Q Send-Q Local Peer Process; the client's socket is the one whose local
        // end is the peer the door saw and whose remote end is the door.
        const mine = sockets.split("\n").find((l) => {
          const [, , local, remote] = l.trim().split(/\s+/);
          return local === `127.0.0.1:${conn.peer.port}` && remote === `127.0.0.1:${s.port}`;
        });
        expect(mine, sockets).toContain("xfreerdp");
      }
      expect(d.connections().map((c) => c.id)).toContain(conn.id);
      expect(refusals).toEqual([]);
    } finally {
      client.kill();
      await client.exited;
    }
    await waitFor("the relay closed", () => d.connections().length, { until: (n) => n === 0 });
  });

  for (const c of [
    {
      name: "a bogus token",
      args: ["/load-balance-info:lr1-bogus-token-of-nobody"],
      reason: "unknown",
    },
    { name: "no token", args: [], reason: "missing" },
    {
      name: "an ended instance's token",
      args: [`/load-balance-info:${endedToken}`],
      reason: "ended",
    },
  ] as const) {
    it(`refuses xfreerdp with ${c.name} three times, and nothing reaches xrdp`, {
      timeout: 120_000,
    }, async (ctx) => {
      const { server: s, xrdp: x } = started(ctx);
      const received = () =>
        readFileSync(x.log, "utf8").match(/connection received from/g)?.length ?? 0;
      const xrdpBefore = received();
      const before = refusals.length;
      const relayedBefore = opened.length;
      const client = xfreerdp(s.port, [...c.args]);
      const code = await Promise.race([
        client.exited,
        new Promise<"late">((r) => setTimeout(() => r("late"), generousMs).unref()),
      ]);
      client.kill();
      expect(code, client.output()).not.toBe("late");
      expect(code).not.toBe(0);
      expect(refusals.slice(before).map((r) => r.reason)).toEqual([c.reason, c.reason, c.reason]);
      expect(opened.length).toBe(relayedBefore);
      expect(received()).toBe(xrdpBefore);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`^lucid_rdp_door_refused_total\\{reason="${c.reason}"\\} 3$`, "m"),
      );
      const health = await fetch(`${s.url}/health`);
      expect(health.status).toBe(200);
    });
  }
});

/** Runs xfreerdp against the door at 127.0.0.1:`port` under the test's Xvfb. */
function xfreerdp(
  port: number,
  extra: string[],
): { exited: Promise<number | null>; output: () => string; kill: () => void } {
  let out = "";
  const p = spawn(
    rdpTools.xfreerdp as string,
    [`/v:127.0.0.1:${port}`, "/u:x", "/p:y", "/cert:ignore", "/log-level:INFO", ...extra],
    {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        DISPLAY: `:${clientDisplay}`,
        HOME: "/tmp",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own group, killed as a whole
    },
  );
  const collect = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  p.stdout?.on("data", collect);
  p.stderr?.on("data", collect);
  const exited = once(p, "exit").then(([code]) => code as number | null);
  return {
    exited,
    output: () => out,
    kill: () => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      try {
        process.kill(-(p.pid as number), "SIGKILL");
      } catch {
        // gone
      }
    },
  };
}
