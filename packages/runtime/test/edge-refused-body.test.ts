/**
 * A call refused before its request body ended (a message over MAX_MESSAGE_BYTES in a stream)
 * must still reach its client: on HTTP/2 the client, blocked on flow control after one window,
 * gets the trailers and then RST_STREAM NO_ERROR (RFC 9113, section 8.1); on HTTP/1.1 the error
 * arrives and the keep-alive connection stays usable (the rest of the body is discarded, the
 * socket is not destroyed). Found by the Connect conformance suite's "Server Message Size" cases.
 */
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessServer, startEcho } from "./support/harness.js";

const reflectionPath = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
let server: InProcessServer;

beforeAll(async () => {
  server = await startEcho({ MAX_MESSAGE_BYTES: "1024", LOG_LEVEL: "warn" });
});
afterAll(async () => {
  await server?.shutdown();
});

/** A gRPC envelope header announcing a message of `length` bytes. */
function envelopeHeader(length: number): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 1);
  return head;
}

describe("a stream refused before its body ended", () => {
  it("HTTP/2: the client gets the trailers, then a NO_ERROR reset that unblocks its sending", async () => {
    const session = connect(server.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": reflectionPath,
        "content-type": "application/grpc",
        te: "trailers",
      });
      const trailers = new Promise<Record<string, unknown>>((resolve) =>
        stream.once("trailers", (t) => resolve(t as Record<string, unknown>)),
      );
      const closed = new Promise<number | undefined>((resolve) =>
        stream.once("close", () => resolve(stream.rstCode)),
      );
      // 200 kB announced and written: far more than the 64 KiB stream window the server grants.
      const big = Buffer.alloc(200_000, 1);
      stream.resume(); // trailers are emitted once the (empty) response body was read
      stream.write(envelopeHeader(big.length));
      stream.write(big);
      expect((await trailers)["grpc-status"]).toBe("8");
      expect(await closed).toBe(0);
    } finally {
      session.destroy();
    }
  });

  it("HTTP/1.1: the error arrives and the same connection serves the next call", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: Buffer, path: string, type: string) =>
      new Promise<{ status: number; text: string; socket: unknown }>((resolve, reject) => {
        const req = httpRequest(
          `${server.url}${path}`,
          { method: "POST", agent, headers: { "content-type": type } },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => {
              text += d;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, text, socket: req.socket }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    try {
      // A server stream's request is one message, refused by connect's own envelope reader.
      const big = Buffer.concat([envelopeHeader(200_000), Buffer.alloc(200_000, 1)]);
      const refused = await post(
        big,
        "/lucid.rdp.testing.v1.EchoService/EchoStream",
        "application/grpc-web+proto",
      );
      expect(refused.status).toBe(200);
      expect(refused.text).toContain("grpc-status: 8");
      const next = await post(
        Buffer.from(JSON.stringify({ message: "again" })),
        "/lucid.rdp.testing.v1.EchoService/Echo",
        "application/json",
      );
      expect(next.status).toBe(200);
      expect(JSON.parse(next.text)).toEqual({ message: "again" });
      expect(next.socket).toBe(refused.socket);
    } finally {
      agent.destroy();
    }
  });
});
