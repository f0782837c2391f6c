/**
 * The one-port runtime served to every client the mesh has: grpc-js over HTTP/2, Connect JSON
 * with fetch over HTTP/1.1, gRPC-web, unary GET, CORS, health, metrics, validation and errors.
 */
import { connect as http2Connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient, statusDetails } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../src/gen/grpc/health/v1/health_pb.js";
import {
  EchoRequestSchema,
  type EchoResponse,
  EchoStreamRequestSchema,
  type EchoStreamResponse,
  FailRequestSchema,
} from "../src/gen/lucid/rdp/testing/v1/echo_service_pb.js";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";

let server: InProcessServer;
beforeAll(async () => {
  server = await startEcho({ CORS_ALLOWED_ORIGINS: "https://console.example.com" });
});
afterAll(async () => {
  await server?.shutdown();
});

function grpcJs(): grpc.Client & Record<string, (...a: unknown[]) => unknown> {
  return createGrpcJsClient(EchoService, `127.0.0.1:${server.port}`) as never;
}

function unaryGrpcJs<T>(
  client: ReturnType<typeof grpcJs>,
  method: string,
  req: unknown,
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]?.(req, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    );
  });
}

describe("runtime server", () => {
  describe("@grpc/grpc-js client over HTTP/2", () => {
    it("calls a unary method", async () => {
      const c = grpcJs();
      const res = await unaryGrpcJs<EchoResponse>(
        c,
        "echo",
        create(EchoRequestSchema, { message: "hello" }),
      );
      expect(res.message).toBe("hello");
      c.close();
    });

    it("reads a server stream to its end", async () => {
      const c = grpcJs();
      const call = c.echoStream?.(
        create(EchoStreamRequestSchema, { message: "tick", count: 3, intervalMs: 5 }),
      ) as grpc.ClientReadableStream<EchoStreamResponse>;
      const got: number[] = [];
      for await (const m of call) got.push((m as EchoStreamResponse).index);
      expect(got).toEqual([0, 1, 2]);
      c.close();
    });

    it("receives the status code and the ErrorInfo detail", async () => {
      const c = grpcJs();
      const err = (await unaryGrpcJs(
        c,
        "fail",
        create(FailRequestSchema, { code: Code.NotFound }),
      ).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(5);
      expect(err.details).toBe("failing with NotFound");
      const [info] = statusDetails(err);
      expect(info?.$typeName).toBe("google.rpc.ErrorInfo");
      expect(info).toMatchObject({ reason: "ASKED_TO_FAIL", domain: "rdp.lucid" });
      c.close();
    });

    it("gets INVALID_ARGUMENT with a BadRequest naming the field from validation", async () => {
      const c = grpcJs();
      const err = (await unaryGrpcJs(c, "echo", create(EchoRequestSchema, { message: "" })).catch(
        (e: unknown) => e,
      )) as grpc.ServiceError;
      expect(err.code).toBe(3);
      const [bad] = statusDetails(err);
      expect(bad?.$typeName).toBe("google.rpc.BadRequest");
      expect(JSON.stringify(bad)).toContain('"field":"message"');
      c.close();
    });

    it("hides internals of an unexpected error", async () => {
      const c = grpcJs();
      const err = (await unaryGrpcJs(
        c,
        "fail",
        create(FailRequestSchema, { code: Code.Internal }),
      ).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(13);
      expect(err.details).toBe("internal error");
      expect(JSON.stringify(err)).not.toContain("hunter2");
      const logged = server.logs.find((l) => l.msg === "rpc failed unexpectedly");
      expect(JSON.stringify(logged)).toContain("hunter2");
      c.close();
    });
  });

  describe("Connect and gRPC-web clients", () => {
    it("serves Connect JSON to fetch over HTTP/1.1", async () => {
      const res = await fetch(`${server.url}/lucid.rdp.testing.v1.EchoService/Echo`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "req-123" },
        body: JSON.stringify({ message: "json" }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ message: "json" });
      expect(res.headers.get("x-request-id")).toBe("req-123");
      const line = server.logs.find((l) => l.requestId === "req-123");
      expect(line).toMatchObject({
        rpc: "lucid.rdp.testing.v1.EchoService/Echo",
        code: "OK",
        service: "echo",
      });
      expect(typeof line?.durationMs).toBe("number");
    });

    it("answers a Connect JSON error with its code and details", async () => {
      const res = await fetch(`${server.url}/lucid.rdp.testing.v1.EchoService/Echo`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "x".repeat(65) }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: string; details: { type: string }[] };
      expect(body.code).toBe("invalid_argument");
      expect(body.details[0]?.type).toBe("google.rpc.BadRequest");
    });

    it("serves unary GET for NO_SIDE_EFFECTS methods", async () => {
      const q = new URLSearchParams({
        connect: "v1",
        encoding: "json",
        message: JSON.stringify({ message: "via-get" }),
      });
      const res = await fetch(`${server.url}/lucid.rdp.testing.v1.EchoService/Echo?${q}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ message: "via-get" });
    });

    it("refuses other HTTP methods on RPC paths with 405, an Allow header and a plain-text reason", async () => {
      const cases = [
        // path, method, Allow
        ["lucid.rdp.testing.v1.EchoService/Echo", "HEAD", "GET, POST"],
        ["lucid.rdp.testing.v1.EchoService/Echo", "PUT", "GET, POST"],
        ["lucid.rdp.testing.v1.EchoService/Fail", "GET", "POST"],
        ["lucid.rdp.testing.v1.EchoService/EchoStream", "GET", "POST"],
        ["grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "GET", "POST"],
        ["grpc.health.v1.Health/Watch", "DELETE", "POST"],
      ] as const;
      for (const [path, method, allow] of cases) {
        const res = await fetch(`${server.url}/${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
        if (method !== "HEAD") {
          // Plain text: a Connect client would take a JSON body's code as the call's code.
          expect(res.headers.get("content-type")).toContain("text/plain");
          expect(await res.text()).toContain(allow === "POST" ? "use POST" : "use GET or POST");
        }
      }
    });

    it("serves gRPC-web over HTTP/1.1", async () => {
      const client = createClient(
        EchoService,
        createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      );
      expect((await client.echo({ message: "web" })).message).toBe("web");
      const got: string[] = [];
      for await (const m of client.echoStream({ message: "w", count: 2 })) got.push(m.message);
      expect(got).toEqual(["w", "w"]);
    });

    it("serves Connect binary over HTTP/2 and gRPC from the generated client", async () => {
      const connectClient = createClient(
        EchoService,
        createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true }),
      );
      expect((await connectClient.echo({ message: "bin" })).message).toBe("bin");
      const grpcClient = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
      const err = await grpcClient.fail({ code: Code.AlreadyExists }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      const ce = err as ConnectError;
      expect(ce.code).toBe(Code.AlreadyExists);
      expect(ce.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ code: "6" });
      const bad = await grpcClient.fail({ code: Code.InvalidArgument }).catch((e: unknown) => e);
      expect(
        ConnectError.from(bad).findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field,
      ).toBe("code");
    });
  });

  describe("one port", () => {
    it("does not decide on the protocol before the 24-byte preface is complete", async () => {
      // The first 16 bytes of the preface, then silence: the server must keep waiting, not
      // treat the connection as HTTP/1.1 (which would answer 400 at once).
      const socket = netConnect(server.port, "127.0.0.1");
      const received: Buffer[] = [];
      socket.on("data", (d) => received.push(d));
      socket.write("PRI * HTTP/2.0\r\n");
      await new Promise((r) => setTimeout(r, 300));
      expect(Buffer.concat(received).length).toBe(0);
      socket.destroy();
    });

    it("answers HTTP/1.1 as soon as a byte differs from the preface", async () => {
      const socket = netConnect(server.port, "127.0.0.1");
      const reply = new Promise<string>((resolve) =>
        socket.once("data", (d) => resolve(String(d))),
      );
      socket.write("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(await reply).toMatch(/^HTTP\/1\.1 200/);
      socket.destroy();
    });

    it("serves HTTP/2 with prior knowledge on the same port", async () => {
      const session = http2Connect(server.url);
      const req = session.request({ ":path": "/livez" });
      const status = await new Promise<number>((resolve) =>
        req.once("response", (h) => resolve(Number(h[":status"]))),
      );
      expect(status).toBe(200);
      req.destroy();
      session.close();
    });
  });

  describe("CORS", () => {
    it("answers the preflight of an allowed origin with the headers Connect needs", async () => {
      const res = await fetch(`${server.url}/lucid.rdp.testing.v1.EchoService/Echo`, {
        method: "OPTIONS",
        headers: {
          origin: "https://console.example.com",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type,connect-protocol-version",
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
      const allowed = res.headers.get("access-control-allow-headers")?.toLowerCase() ?? "";
      for (const h of ["content-type", "connect-protocol-version", "x-grpc-web", "authorization"]) {
        expect(allowed).toContain(h);
      }
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    });

    it("refuses the preflight of another origin", async () => {
      const res = await fetch(`${server.url}/lucid.rdp.testing.v1.EchoService/Echo`, {
        method: "OPTIONS",
        headers: { origin: "https://evil.example.net", "access-control-request-method": "POST" },
      });
      expect(res.status).toBe(403);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    });

    it("exposes the gRPC-web trailers headers on actual responses", async () => {
      const res = await fetch(`${server.url}/lucid.rdp.testing.v1.EchoService/Echo`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: "https://console.example.com" },
        body: JSON.stringify({ message: "cors" }),
      });
      expect(res.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
      expect(res.headers.get("access-control-expose-headers")?.toLowerCase()).toContain(
        "grpc-status",
      );
    });
  });

  describe("health", () => {
    it("answers Check for the server, a served service, and NOT_FOUND for others", async () => {
      const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
      expect((await health.check({ service: "lucid.rdp.testing.v1.EchoService" })).status).toBe(
        ServingStatus.SERVING,
      );
      const err = await health.check({ service: "nope.Service" }).catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(Code.NotFound);
    });

    it("serves /health, /livez and /readyz", async () => {
      const h = await fetch(`${server.url}/health`);
      expect(h.status).toBe(200);
      expect(await h.json()).toMatchObject({ service: "echo", status: "SERVING" });
      expect((await fetch(`${server.url}/livez`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    });
  });

  describe("/metrics", () => {
    it("counts started and handled calls with the go-grpc-prometheus labels", async () => {
      const read = async () => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        const started =
          /grpc_server_started_total\{grpc_type="unary",grpc_service="lucid.rdp.testing.v1.EchoService",grpc_method="Fail"\} (\d+)/.exec(
            text,
          );
        const handled =
          /grpc_server_handled_total\{grpc_type="unary",grpc_service="lucid.rdp.testing.v1.EchoService",grpc_method="Fail",grpc_code="PermissionDenied"\} (\d+)/.exec(
            text,
          );
        return { started: Number(started?.[1] ?? 0), handled: Number(handled?.[1] ?? 0), text };
      };
      const before = await read();
      const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
      await client.fail({ code: Code.PermissionDenied }).catch(() => undefined);
      await client.fail({ code: Code.PermissionDenied }).catch(() => undefined);
      const after = await read();
      expect(after.started - before.started).toBe(2);
      expect(after.handled - before.handled).toBe(2);
      expect(after.text).toContain("# TYPE grpc_server_handling_seconds histogram");
      expect(after.text).toContain("process_cpu_seconds_total");
    });

    it("counts a server stream when it ends", async () => {
      const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
      for await (const _ of client.echoStream({ message: "m", count: 2 })) {
        // drain
      }
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toMatch(
        /grpc_server_handled_total\{grpc_type="server_stream",grpc_service="lucid.rdp.testing.v1.EchoService",grpc_method="EchoStream",grpc_code="OK"\} [1-9]/,
      );
    });
  });
});
