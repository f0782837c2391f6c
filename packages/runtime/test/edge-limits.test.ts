/**
 * The edge adapter against a real child process with auth on: auth is decided before any body
 * byte is read or inflated, and MAX_MESSAGE_BYTES holds before and while inflating, for every
 * protocol, with gzip and brotli bombs whose inflated size is 256 MiB.
 */
import { brotliCompressSync, gzipSync, constants as zlibConstants } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EchoRequestSchema,
  EchoStreamRequestSchema,
} from "../src/gen/lucid/rdp/testing/v1/echo_service_pb.js";
import { type ChildServer, spawnEcho } from "./support/harness.js";
import {
  callWire,
  h2Request,
  memoryOf,
  readResult,
  servingPid,
  type WireProtocol,
} from "./support/wire-client.js";

const secret = "test-secret-of-at-least-thirty-two-characters!";
const mib = 1024 * 1024;
const inflated = 256 * mib;

let server: ChildServer;
let pid: number;
let bearer: string;
const bombs: Record<"gzip" | "br", Uint8Array> = {
  gzip: new Uint8Array(0),
  br: new Uint8Array(0),
};

beforeAll(async () => {
  server = await spawnEcho({
    PORT: "0",
    LOG_LEVEL: "info",
    AUTH_JWT_SECRET: secret,
    // 1 MiB: every refused bomb may leave up to the limit of inflated garbage until the next GC;
    // ten of them must stay far below the 64 MiB the test allows.
    MAX_MESSAGE_BYTES: String(mib),
  });
  pid = servingPid(server.child.pid as number);
  const now = Math.floor(Date.now() / 1000);
  bearer = await new SignJWT({ roles: ["viewer", "operator"] })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("alice")
    .setIssuedAt(now - 60)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(secret));
  const zeros = Buffer.alloc(inflated);
  bombs.gzip = gzipSync(zeros, { level: 9 });
  bombs.br = brotliCompressSync(zeros, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: 5,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: inflated,
    },
  });
}, 60_000);

afterAll(async () => {
  server?.kill("SIGKILL");
  await server?.exited;
});

const cases: { protocol: WireProtocol; path: string }[] = [
  { protocol: "connect", path: "/lucid.rdp.testing.v1.EchoService/Echo" },
  { protocol: "grpc", path: "/lucid.rdp.testing.v1.EchoService/Echo" },
  { protocol: "grpc-web", path: "/lucid.rdp.testing.v1.EchoService/Echo" },
  { protocol: "connect-stream", path: "/lucid.rdp.testing.v1.EchoService/EchoStream" },
  { protocol: "grpc", path: "/lucid.rdp.testing.v1.EchoService/EchoStream" },
];

describe("edge adapter", () => {
  describe("auth", () => {
    for (const { protocol, path } of cases) {
      it(`answers UNAUTHENTICATED over ${protocol} ${path.split("/")[2]} before the body arrives`, async () => {
        // The client sends headers only and never finishes the body: the answer cannot depend
        // on reading it.
        const res = await callWire(server.url, protocol, path, [], { holdBody: true });
        expect(res.code).toBe(Code.Unauthenticated);
      });
    }
  });

  describe("decompression bombs", () => {
    it("keep the server's memory bounded while refusing them with the right code", async () => {
      expect(bombs.br.byteLength).toBeLessThan(1024);
      const before = memoryOf(pid);
      for (const encoding of ["gzip", "br"] as const) {
        for (const { protocol, path } of cases) {
          const what = `${encoding} bomb over ${protocol} ${path}`;
          const anonymous = await callWire(server.url, protocol, path, [bombs[encoding]], {
            encoding,
          });
          expect(anonymous.code, `${what} without a token`).toBe(Code.Unauthenticated);
          const authorized = await callWire(server.url, protocol, path, [bombs[encoding]], {
            encoding,
            headers: { authorization: `Bearer ${bearer}` },
          });
          expect(authorized.code, `${what} with a token`).toBe(Code.ResourceExhausted);
        }
      }
      const after = memoryOf(pid);
      expect(after.hwm - before.hwm).toBeLessThan(64 * mib);
      expect(after.rss - before.rss).toBeLessThan(64 * mib);
    }, 120_000);

    it("refuses a brotli bomb in a Connect GET query the same way", async () => {
      const q = new URLSearchParams({
        connect: "v1",
        encoding: "proto",
        compression: "br",
        base64: "1",
        message: Buffer.from(bombs.br).toString("base64url"),
      });
      const path = `/lucid.rdp.testing.v1.EchoService/Echo?${q}`;
      const before = memoryOf(pid);
      const anonymous = await h2Request(server.url, path, {}, [], { method: "GET" });
      expect(readResult("connect", anonymous).code).toBe(Code.Unauthenticated);
      const authorized = await h2Request(
        server.url,
        path,
        { authorization: `Bearer ${bearer}` },
        [],
        { method: "GET" },
      );
      expect(readResult("connect", authorized).code).toBe(Code.ResourceExhausted);
      expect(memoryOf(pid).hwm - before.hwm).toBeLessThan(64 * mib);
    });

    it("refuses a body larger than MAX_MESSAGE_BYTES before inflating it", async () => {
      const big = new Uint8Array(2 * mib);
      for (const { protocol, path } of cases) {
        const res = await callWire(server.url, protocol, path, [big], {
          headers: { authorization: `Bearer ${bearer}` },
        });
        expect(res.code, `${protocol} ${path}`).toBe(Code.ResourceExhausted);
      }
    }, 60_000);

    it("still serves compressed messages within the limit", async () => {
      const unary = gzipSync(
        toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "hi" })),
      );
      const stream = brotliCompressSync(
        toBinary(
          EchoStreamRequestSchema,
          create(EchoStreamRequestSchema, { message: "hi", count: 2 }),
        ),
      );
      for (const { protocol, path } of cases) {
        const unaryPath = path.endsWith("/Echo");
        const res = await callWire(server.url, protocol, path, [unaryPath ? unary : stream], {
          encoding: unaryPath ? "gzip" : "br",
          headers: { authorization: `Bearer ${bearer}` },
        });
        expect(res.code, `${protocol} ${path}: ${res.message}`).toBeUndefined();
        expect(res.messages.length).toBe(unaryPath ? 1 : 2);
      }
    });
  });
});
