/**
 * ServerOptions.rawProtocols: a connection whose first byte is a raw protocol's goes to its
 * handler with every byte intact, plaintext and TLS, while gRPC (h2), Connect JSON (h1) and
 * /health still answer on the same port; under TLS an unknown first byte is closed and counted; a
 * silent socket is closed; raw sockets count against MAX_CONNECTIONS; shutdown leaves them to the
 * service.
 */
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { waitFor } from "@lucid-rdp/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RawProtocol } from "../src/index.js";
import { slowHeaders } from "./support/connection-clients.js";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";
import { metricValue } from "./support/read-metric.js";
import { testCertificate } from "./support/test-certificate.js";

/** A raw protocol on 0x03 that echoes every byte back and keeps its sockets. */
function echoProtocol(): RawProtocol & { readonly sockets: Socket[] } {
  const sockets: Socket[] = [];
  return {
    name: "echo",
    firstByte: 0x03,
    sockets,
    handle(socket) {
      sockets.push(socket);
      socket.on("error", () => {});
      socket.pipe(socket);
    },
  };
}

/** A plain TCP client to the server's port, with what it received and whether it was closed. */
async function dial(port: number): Promise<{
  socket: Socket;
  received: () => Buffer;
  closed: () => boolean;
}> {
  const socket = connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on("data", (d: Buffer) => chunks.push(d));
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed };
}

function getBody(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
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
        : httpsGet(url, { ca, agent: false }, done);
    req.once("error", reject);
  });
}

async function sampleOf(server: InProcessServer, line: RegExp): Promise<string | undefined> {
  return (await server.metrics.metrics()).split("\n").find((l) => line.test(l));
}

for (const mode of ["plaintext", "TLS"] as const) {
  describe(`startServer() with rawProtocols, ${mode}`, () => {
    let server: InProcessServer;
    let ca: Buffer | undefined;
    const raw = echoProtocol();
    const open: Socket[] = [];

    beforeAll(async () => {
      const env: Record<string, string> = {};
      if (mode === "TLS") {
        const made = testCertificate();
        ca = made.ca;
        Object.assign(env, { TLS_CERT: made.cert, TLS_KEY: made.key });
      }
      server = await startEcho(env, { rawProtocols: [raw] });
    });
    afterEach(() => {
      for (const s of open.splice(0)) s.destroy();
    });
    afterAll(async () => {
      for (const s of raw.sockets) s.destroy();
      await server?.shutdown();
    });

    it("hands the handler every byte of a first chunk holding more than one byte", async () => {
      const client = await dial(server.port);
      open.push(client.socket);
      const sent = Buffer.from([0x03, 0x00, 0x00, 0x0b, 0x06, 0xe0, 1, 2, 3, 4, 5]);
      client.socket.write(sent);
      await waitFor("the echo of all bytes", () => client.received(), {
        until: (b) => b.length >= sent.length,
      });
      expect(client.received()).toEqual(sent);
    });

    it("hands the handler the bytes that arrive after the first one, over several writes", async () => {
      const before = raw.sockets.length;
      const client = await dial(server.port);
      open.push(client.socket);
      client.socket.write(Buffer.from([0x03]));
      await waitFor("the socket handed to the raw protocol", () => raw.sockets.length, {
        until: (n) => n > before,
      });
      client.socket.write(Buffer.from([0xaa, 0xbb]));
      client.socket.write(Buffer.from([0xcc]));
      await waitFor("the echo of all bytes", () => client.received(), {
        until: (b) => b.length >= 4,
      });
      expect(client.received()).toEqual(Buffer.from([0x03, 0xaa, 0xbb, 0xcc]));
    });

    it("still serves gRPC (h2), Connect JSON (HTTP/1.1) and /health on the same port", async () => {
      const nodeOptions = ca === undefined ? {} : { ca };
      const grpc = createClient(
        EchoService,
        createGrpcTransport({ baseUrl: server.url, nodeOptions }),
      );
      expect((await grpc.echo({ message: "h2" })).message).toBe("h2");
      const connectJson = createClient(
        EchoService,
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions }),
      );
      expect((await connectJson.echo({ message: "h1" })).message).toBe("h1");
      const health = await getBody(`${server.url}/health`, ca);
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ service: "echo", status: "SERVING" });
    });

    if (mode === "TLS") {
      it("closes a connection whose first byte is neither TLS nor a raw protocol, and counts it", async () => {
        const client = await dial(server.port);
        open.push(client.socket);
        client.socket.write("GET /health HTTP/1.1\r\nhost: x\r\n\r\n");
        await waitFor("the connection closed", () => client.closed(), { until: (c) => c });
        expect(client.received()).toHaveLength(0);
        expect(
          metricValue(await server.metrics.metrics(), "lucid_connections_closed_total", {
            reason: "unknown_protocol",
          }),
        ).toBe(1);
      });
    }
  });
}

describe("startServer() with rawProtocols: limits and shutdown", () => {
  let server: InProcessServer | undefined;
  afterEach(async () => {
    await server?.shutdown();
    server = undefined;
  });

  for (const mode of ["plaintext", "TLS"] as const) {
    it(`closes a socket that stays silent (${mode})`, async () => {
      const env: Record<string, string> = { IDLE_SOCKET_TIMEOUT_MS: "300" };
      if (mode === "TLS") {
        const made = testCertificate();
        Object.assign(env, { TLS_CERT: made.cert, TLS_KEY: made.key });
      }
      server = await startEcho(env, { rawProtocols: [echoProtocol()] });
      const client = await dial(server.port);
      await waitFor("the silent connection closed", () => client.closed(), {
        until: (c) => c,
      });
      expect(
        metricValue(await server.metrics.metrics(), "lucid_connections_closed_total", {
          reason: "idle",
        }),
      ).toBeGreaterThanOrEqual(1);
    });
  }

  it("keeps ALPN and the HTTP/1.1 headers timeout of TLS connections behind the sniffer", async () => {
    const made = testCertificate();
    server = await startEcho(
      { TLS_CERT: made.cert, TLS_KEY: made.key, HEADERS_TIMEOUT_MS: "500" },
      { rawProtocols: [echoProtocol()] },
    );
    const port = server.port;
    for (const proto of ["h2", "http/1.1"]) {
      const negotiated = await new Promise<string | false>((resolve, reject) => {
        const s = tlsConnect(
          { host: "127.0.0.1", port, ca: made.ca, ALPNProtocols: [proto], servername: "localhost" },
          () => {
            resolve(s.alpnProtocol ?? false);
            s.destroy();
          },
        );
        s.once("error", reject);
      });
      expect(negotiated).toBe(proto);
    }
    const slow = await slowHeaders({ tls: true, port, ca: made.ca, alpn: "http/1.1" });
    try {
      await waitFor("the slow request closed", () => slow.closed, { until: (c) => c });
    } finally {
      slow.stop();
    }
    expect(
      metricValue(await server.metrics.metrics(), "lucid_connections_closed_total", {
        reason: "headers_timeout",
      }),
    ).toBe(1);
  });

  it("counts raw sockets against MAX_CONNECTIONS", async () => {
    const raw = echoProtocol();
    server = await startEcho({ MAX_CONNECTIONS: "3" }, { rawProtocols: [raw] });
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await dial(server.port);
      c.socket.write(Buffer.from([0x03]));
      clients.push(c);
    }
    await waitFor("three sockets with the raw protocol", () => raw.sockets.length, {
      until: (n) => n === 3,
    });
    const fourth = await dial(server.port);
    await waitFor("the fourth connection dropped", () => fourth.closed(), { until: (c) => c });
    const running = server;
    expect(await sampleOf(running, /^lucid_connections_closed_total\{reason="limit"\}/)).toBe(
      'lucid_connections_closed_total{reason="limit"} 1',
    );
    expect(await sampleOf(running, /^lucid_connections_open /)).toBe("lucid_connections_open 3");
    for (const c of clients) c.socket.destroy();
    for (const s of raw.sockets) s.destroy();
  });

  it("leaves raw sockets open at shutdown until the service's onShutdown closes them", async () => {
    const raw = echoProtocol();
    let openAtOnShutdown: boolean[] = [];
    server = await startEcho(
      {},
      {
        rawProtocols: [raw],
        onShutdown: async () => {
          openAtOnShutdown = raw.sockets.map((s) => !s.destroyed);
          for (const s of raw.sockets) s.destroy();
        },
      },
    );
    const client = await dial(server.port);
    client.socket.write(Buffer.from([0x03, 0x01]));
    await waitFor("the echo", () => client.received(), { until: (b) => b.length === 2 });
    const running = server;
    server = undefined;
    await running.shutdown();
    expect(openAtOnShutdown).toEqual([true]);
    await waitFor("the client closed", () => client.closed(), { until: (c) => c });
  });

  it("refuses a first byte that could start an HTTP request or a TLS record", async () => {
    for (const firstByte of [0x16, 0x47, 0x50, 256]) {
      await expect(
        startEcho({}, { rawProtocols: [{ name: "bad", firstByte, handle: () => {} }] }),
      ).rejects.toThrow(/firstByte/);
    }
  });
});
