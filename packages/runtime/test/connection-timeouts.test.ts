/**
 * Idle and slow connections are closed by the server within the configured timeouts, on plaintext
 * HTTP/1.1 and HTTP/2 and on TLS (h1 and h2 by ALPN), and the server's descriptors come back; a
 * live server stream that sends nothing for several idle timeouts stays open. The service runs as
 * a real child process with small timeouts.
 */
import { get as httpGet } from "node:http";
import { connect as http2Connect, constants as http2Constants } from "node:http2";
import { get as httpsGet } from "node:https";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { waitFor } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
} from "../src/gen/grpc/reflection/v1/reflection_pb.js";
import { EchoStreamRequestSchema } from "../src/gen/lucid/rdp/testing/v1/echo_service_pb.js";
import {
  connectedSilent,
  type Dial,
  goawayFrame,
  type Http2Probe,
  idleHttp2,
  keepAliveIdle,
  openFds,
  type Probe,
  servingPid,
  silent,
  slowBody,
  slowHeaders,
  slowHttp2Body,
} from "./support/connection-clients.js";
import { EchoService } from "./support/echo-service.js";
import { type ChildServer, spawnEcho } from "./support/harness.js";
import { testCertificate } from "./support/test-certificate.js";

const timeouts = {
  IDLE_SOCKET_TIMEOUT_MS: "500",
  HEADERS_TIMEOUT_MS: "1000",
  BODY_TIMEOUT_MS: "1500",
};
/** Far above the largest timeout (body 1.5 s, then the session's idle 0.5 s): a busy machine is slow. */
const margin = 30_000;

function getText(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const done = (res: import("node:http").IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req =
      ca === undefined
        ? httpGet(url, { agent: false }, done)
        : httpsGet(url, { agent: false, ca }, done);
    req.once("error", reject);
  });
}

function closedCount(metrics: string, reason: string): number {
  const line = metrics
    .split("\n")
    .find((l) => l.startsWith(`lucid_connections_closed_total{reason="${reason}"}`));
  return Number(line?.split(" ").at(-1) ?? Number.NaN);
}

for (const tls of [false, true]) {
  describe(`connection timeouts (${tls ? "TLS" : "plaintext"})`, () => {
    let server: ChildServer;
    let pid: number;
    let ca: Buffer | undefined;
    let dialOf: (alpn?: string) => Dial;
    const probes: Probe[] = [];

    beforeAll(async () => {
      const env: Record<string, string> = { ...timeouts };
      if (tls) {
        const made = testCertificate();
        ca = made.ca;
        env.TLS_CERT = made.cert;
        env.TLS_KEY = made.key;
      }
      server = await spawnEcho(env);
      pid = servingPid(server.child.pid as number);
      dialOf = (alpn) =>
        ca === undefined
          ? { tls: false, port: server.port }
          : { tls: true, port: server.port, ca, alpn };
    });
    afterAll(async () => {
      for (const p of probes) p.stop();
      server?.kill("SIGKILL");
      await server?.exited;
    });

    it("closes 150 silent, idle and slow connections and returns to its descriptor baseline", async () => {
      const baseline = openFds(pid);
      const kinds: Array<(i: number) => Promise<Probe>> = [
        // With TLS, every other one completes the handshake first (then HTTP/1.1 by ALPN).
        (i) => (tls && i % 2 === 1 ? connectedSilent(dialOf()) : silent(server.port)),
        () => idleHttp2(dialOf("h2")),
        () => slowHeaders(dialOf()),
        () => slowBody(dialOf()),
        () => slowHttp2Body(dialOf("h2")),
        () => keepAliveIdle(dialOf()),
      ];
      for (let i = 0; i < 25; i++) {
        probes.push(...(await Promise.all(kinds.map((open) => open(i)))));
      }
      expect(probes).toHaveLength(150);

      await waitFor(
        "every connection closed by the server",
        () => probes.filter((p) => !p.closed),
        {
          until: (open) => open.length === 0,
          timeoutMs: margin,
          detail: () => {
            const open = probes.filter((p) => !p.closed);
            return `${open.length} open: ${[...new Set(open.map((p) => p.kind))].join(", ")}`;
          },
          logs: () => server.stdout.slice(-5).join("\n"),
        },
      );
      const idleSessions = probes.filter((p): p is Http2Probe => p.kind === "idle h2");
      expect(idleSessions).toHaveLength(25);
      // Each idle session was told with a GOAWAY before its connection closed.
      expect(idleSessions.filter((p) => !p.frameTypes.includes(goawayFrame))).toEqual([]);
      await waitFor("the server's descriptors back to the baseline", () => openFds(pid), {
        until: (n) => n <= baseline,
        timeoutMs: margin,
        detail: () => `${openFds(pid)} open, baseline ${baseline}`,
      });

      const { body } = await getText(`${server.url}/metrics`, ca);
      const closed = ["idle", "headers_timeout", "body_timeout", "limit"].map((reason) =>
        closedCount(body, reason),
      );
      const [, headers, bodies] = closed;
      // 150 connections, and the 25 h2 sessions whose stream was cut are then closed idle too.
      expect(closed.reduce((a, b) => a + b)).toBe(175);
      expect(bodies).toBe(50);
      // Slow headers can read as idle on a machine too busy to trickle every 200 ms; TLS
      // handshakes that never start are headers timeouts (13 of them).
      expect(headers).toBeGreaterThanOrEqual(tls ? 14 : 1);
      // Only the connection that asked.
      expect(body).toMatch(/^lucid_connections_open 1$/m);
    });

    it("keeps a server stream that sends nothing for several idle timeouts open, on h2 and h1", async () => {
      const nodeOptions = ca === undefined ? {} : { ca };
      const transports = [
        createGrpcTransport({ baseUrl: server.url, nodeOptions }),
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions }),
      ];
      const got = await Promise.all(
        transports.map(async (transport) => {
          const client = createClient(EchoService, transport);
          const indexes: number[] = [];
          // 4 x 1.2 s of silence between messages: each pause is over twice the idle timeout.
          for await (const res of client.echoStream(
            create(EchoStreamRequestSchema, { message: "still here", count: 5, intervalMs: 1_200 }),
          )) {
            indexes.push(res.index);
          }
          return indexes;
        }),
      );
      expect(got).toEqual([
        [0, 1, 2, 3, 4],
        [0, 1, 2, 3, 4],
      ]);
    });

    it("spares a bidi-streaming request body (reflection) from the body timeout", async () => {
      const client = createClient(
        ServerReflection,
        createGrpcTransport({ baseUrl: server.url, nodeOptions: ca === undefined ? {} : { ca } }),
      );
      const ask = create(ServerReflectionRequestSchema, {
        messageRequest: { case: "listServices", value: "" },
      });
      let release = () => {};
      const later = new Promise<void>((resolve) => {
        release = resolve;
      });
      async function* requests() {
        yield ask;
        await later;
        yield ask;
      }
      let answers = 0;
      for await (const res of client.serverReflectionInfo(requests())) {
        expect(res.messageResponse.case).toBe("listServicesResponse");
        answers++;
        // The request stream stays open twice the body timeout before it sends again.
        if (answers === 1) setTimeout(release, 2 * Number(timeouts.BODY_TIMEOUT_MS));
      }
      expect(answers).toBe(2);
    });

    it("advertises at most 100 concurrent streams and refuses a header list over 64 KiB on HTTP/2", async () => {
      const session = http2Connect(`${tls ? "https" : "http"}://localhost:${server.port}`, {
        host: "127.0.0.1",
        ...(ca === undefined ? {} : { ca, servername: "localhost" }),
      });
      try {
        const settings = await new Promise<import("node:http2").Settings>((resolve, reject) => {
          session.once("remoteSettings", resolve);
          session.once("error", reject);
        });
        expect(settings.maxConcurrentStreams).toBe(100);
        expect(settings.maxHeaderListSize).toBe(64 * 1024);
        const big = session.request({ ":path": "/livez", "x-big": "a".repeat(70 * 1024) });
        big.on("error", () => {});
        const rstCode = await new Promise<number | undefined>((resolve) => {
          big.once("response", () => resolve(undefined));
          big.once("close", () => resolve(big.rstCode));
        });
        expect(rstCode).toBe(http2Constants.NGHTTP2_REFUSED_STREAM);
      } finally {
        session.destroy();
      }
    });
  });
}
