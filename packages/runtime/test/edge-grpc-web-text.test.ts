/**
 * gRPC-web text mode (application/grpc-web-text), the official grpc-web JavaScript client's
 * default, with a client written from PROTOCOL-WEB.md: base64 request bodies (each chunk may be
 * padded on its own), base64 responses, unary and server streaming, trailers in the final frame.
 */
import { request as h1Request } from "node:http";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EchoRequestSchema,
  EchoResponseSchema,
  EchoStreamRequestSchema,
  EchoStreamResponseSchema,
  FailRequestSchema,
} from "../src/gen/lucid/rdp/testing/v1/echo_service_pb.js";
import { type InProcessServer, startEcho } from "./support/harness.js";
import { envelope, envelopes, h2Request } from "./support/wire-client.js";

let server: InProcessServer;
beforeAll(async () => {
  server = await startEcho();
});
afterAll(async () => {
  await server?.shutdown();
});

/** Base64-encodes a request message frame in pieces, each padded on its own, as a client may. */
function textChunks(message: Uint8Array, pieces: number): Buffer[] {
  const frame = envelope(message);
  const size = Math.ceil(frame.length / pieces);
  const out: Buffer[] = [];
  for (let at = 0; at < frame.length; at += size) {
    out.push(Buffer.from(frame.subarray(at, at + size).toString("base64"), "latin1"));
  }
  return out;
}

/** Decodes a grpc-web-text response body: 4-character quanta, padding allowed in the middle. */
function decodeText(body: Buffer): Buffer {
  const text = body.toString("latin1").replace(/\s+/g, "");
  expect(text.length % 4).toBe(0);
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length; i += 4) parts.push(Buffer.from(text.slice(i, i + 4), "base64"));
  return Buffer.concat(parts);
}

interface TextResult {
  readonly contentType: string;
  readonly messages: Buffer[];
  readonly trailers: Record<string, string>;
}

/** Reads the frames of a decoded response: messages, then the trailer frame. */
function readFrames(contentType: string, body: Buffer): TextResult {
  const frames = envelopes(decodeText(body));
  const trailerFrame = frames.find((f) => (f.flags & 0x80) === 0x80);
  const trailers: Record<string, string> = {};
  for (const line of (trailerFrame?.data.toString("latin1") ?? "").split("\r\n")) {
    const at = line.indexOf(":");
    if (at > 0) trailers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  expect(frames.at(-1)).toBe(trailerFrame);
  return {
    contentType,
    messages: frames.filter((f) => (f.flags & 0x80) === 0).map((f) => f.data),
    trailers,
  };
}

/** A grpc-web-text call over HTTP/1.1, as a browser sends it. */
function callH1(path: string, chunks: Buffer[], contentType: string): Promise<TextResult> {
  return new Promise((resolve, reject) => {
    const req = h1Request(
      `${server.url}${path}`,
      {
        method: "POST",
        headers: {
          "content-type": contentType,
          accept: "application/grpc-web-text",
          "x-grpc-web": "1",
        },
      },
      (res) => {
        const body: Buffer[] = [];
        res.on("data", (d: Buffer) => body.push(d));
        res.on("end", () => {
          try {
            expect(res.statusCode).toBe(200);
            resolve(readFrames(String(res.headers["content-type"]), Buffer.concat(body)));
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** The same over HTTP/2. */
async function callH2(path: string, chunks: Buffer[], contentType: string): Promise<TextResult> {
  const res = await h2Request(
    server.url,
    path,
    { "content-type": contentType, accept: "application/grpc-web-text", "x-grpc-web": "1" },
    chunks,
  );
  expect(res.status).toBe(200);
  return readFrames(String(res.headers["content-type"]), res.body);
}

const echoPath = "/lucid.rdp.testing.v1.EchoService/Echo";
const streamPath = "/lucid.rdp.testing.v1.EchoService/EchoStream";

describe("edge adapter", () => {
  describe("grpc-web-text", () => {
    for (const [transport, call] of [
      ["HTTP/1.1", callH1],
      ["HTTP/2", callH2],
    ] as const) {
      for (const contentType of ["application/grpc-web-text", "application/grpc-web-text+proto"]) {
        it(`serves a unary call as ${contentType} over ${transport}`, async () => {
          const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "héllo" }));
          const res = await call(echoPath, textChunks(msg, 3), contentType);
          expect(res.contentType).toMatch(/^application\/grpc-web-text/);
          expect(res.trailers["grpc-status"]).toBe("0");
          expect(res.messages.map((m) => fromBinary(EchoResponseSchema, m).message)).toEqual([
            "héllo",
          ]);
        });
      }

      it(`serves a server stream over ${transport}`, async () => {
        const msg = toBinary(
          EchoStreamRequestSchema,
          create(EchoStreamRequestSchema, { message: "tick", count: 3 }),
        );
        const res = await call(streamPath, textChunks(msg, 2), "application/grpc-web-text");
        expect(res.trailers["grpc-status"]).toBe("0");
        expect(res.messages.map((m) => fromBinary(EchoStreamResponseSchema, m).index)).toEqual([
          0, 1, 2,
        ]);
      });

      it(`puts an error's status in the final frame over ${transport}`, async () => {
        const msg = toBinary(FailRequestSchema, create(FailRequestSchema, { code: Code.NotFound }));
        const res = await call(
          "/lucid.rdp.testing.v1.EchoService/Fail",
          textChunks(msg, 1),
          "application/grpc-web-text",
        );
        expect(res.messages).toEqual([]);
        expect(res.trailers["grpc-status"]).toBe(String(Code.NotFound));
      });
    }

    it("answers a body that is not base64 with INVALID_ARGUMENT", async () => {
      const res = await callH1(
        echoPath,
        [Buffer.from("not base64!!")],
        "application/grpc-web-text",
      );
      expect(res.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    });
  });
});
