/**
 * Client mistakes at the edge, on the wire: unknown JSON fields and enum names, malformed
 * protobuf, invalid UTF-8 and bad Connect GET base64 are INVALID_ARGUMENT naming the field, each
 * logged once with its request id and answered with x-request-id; what connect refuses by itself
 * is logged too; huge timeouts are clamped, not failed.
 */
import { randomUUID } from "node:crypto";
import { create, fromBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import {
  StartInstanceResponseSchema,
  XrdpIntegrationService,
} from "@lucid-rdp/gen/lucid/rdp/v1/xrdp_integration_service_pb.js";
import { waitFor } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../src/gen/google/rpc/status_pb.js";
import { EchoService, echoRoutes } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";
import { callWire, h2Request, type WireProtocol, type WireResult } from "./support/wire-client.js";

const start = "/lucid.rdp.v1.XrdpIntegrationService/StartInstance";
const watch = "/lucid.rdp.v1.XrdpIntegrationService/WatchInstances";
const echo = "/lucid.rdp.testing.v1.EchoService/Echo";
const slow = "/lucid.rdp.testing.v1.EchoService/Slow";
const reflect = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

let server: InProcessServer;
beforeAll(async () => {
  server = await startEcho(
    {},
    {
      services: [EchoService, XrdpIntegrationService],
      routes: (router: ConnectRouter) => {
        echoRoutes(router);
        router.service(XrdpIntegrationService, {
          startInstance: () => create(StartInstanceResponseSchema, {}),
          async *watchInstances() {},
        });
      },
    },
  );
});
afterAll(async () => {
  await server?.shutdown();
});

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const valid = { requestId: randomUUID(), port: 3390, owner: "alice" };

/** The BadRequest field paths of an error, from Connect details or grpc-status-details-bin. */
function violations(res: WireResult): string[] {
  const fields: string[] = [];
  for (const d of res.details as { type?: string; value?: string }[]) {
    if (d.type === "google.rpc.BadRequest" && d.value !== undefined) {
      for (const v of fromBinary(BadRequestSchema, base64Decode(d.value)).fieldViolations) {
        fields.push(v.field);
      }
    }
  }
  const bin = res.trailers["grpc-status-details-bin"];
  if (typeof bin === "string") {
    for (const any of fromBinary(StatusSchema, base64Decode(bin)).details) {
      if (any.typeUrl.endsWith("google.rpc.BadRequest")) {
        for (const v of fromBinary(BadRequestSchema, any.value).fieldViolations)
          fields.push(v.field);
      }
    }
  }
  return fields;
}

/** Waits for the call's log line, then checks (after a later call was logged) it is the only one. */
async function expectLoggedOnce(requestId: string, code: string): Promise<void> {
  const mine = () => server.logs.filter((l) => l.requestId === requestId);
  await waitFor(`a log line for ${requestId}`, () => (mine().length > 0 ? true : undefined));
  const marker = randomUUID();
  await callWire(server.url, "connect", echo, [json({ message: "marker" })], {
    json: true,
    headers: { "x-request-id": marker },
  });
  await waitFor("the marker's log line", () =>
    server.logs.some((l) => l.requestId === marker) ? true : undefined,
  );
  expect(mine().map((l) => l.code)).toEqual([code]);
}

describe("edge adapter", () => {
  describe("strict JSON", () => {
    const wrong: { name: string; body: unknown; field: string }[] = [
      { name: "an unknown field", body: { ...valid, bogus: 1 }, field: "bogus" },
      {
        name: "an unknown enum name",
        body: { ...valid, settings: { securityLayer: "SECURITY_LAYER_PLAIN" } },
        field: "settings.security_layer",
      },
      {
        name: "an unknown nested field",
        body: { ...valid, settings: { maxSession: 3 } },
        field: "settings.maxSession",
      },
      {
        name: "a Duration with too many fraction digits",
        body: { ...valid, waitTimeout: "1.0000000001s" },
        field: "wait_timeout",
      },
      {
        name: "a negative Duration string",
        body: { ...valid, settings: { idleTimeLimit: "-1" } },
        field: "settings.idle_time_limit",
      },
    ];
    for (const protocol of ["connect", "grpc"] as const) {
      for (const { name, body, field } of wrong) {
        it(`refuses ${name} over ${protocol}+json naming ${field}`, async () => {
          const res = await callWire(server.url, protocol, start, [json(body)], { json: true });
          expect(res.code, res.message).toBe(Code.InvalidArgument);
          expect(violations(res)).toEqual([field]);
          expect(res.message).not.toMatch(/Invalid count value/);
          if (protocol === "connect") expect(res.status).toBe(400);
        });
      }
    }

    it("refuses an unknown field in a Connect JSON stream request", async () => {
      const res = await callWire(server.url, "connect-stream", watch, [json({ bogus: true })], {
        json: true,
      });
      expect(res.code, res.message).toBe(Code.InvalidArgument);
      expect(violations(res)).toEqual(["bogus"]);
    });

    it("raises a bad message of a stream at that message, after answering the earlier ones", async () => {
      const res = await callWire(
        server.url,
        "connect-stream",
        reflect,
        [json({ listServices: "" }), json({ listServices: "", bogus: 1 })],
        { json: true },
      );
      expect(res.code, res.message).toBe(Code.InvalidArgument);
      expect(violations(res)).toEqual(["bogus"]);
      expect(res.messages.length).toBe(1);
    });

    it("accepts json names, proto names and enum numbers", async () => {
      const bodies = [
        { ...valid, settings: { securityLayer: "SECURITY_LAYER_TLS", maxSessions: 3 } },
        {
          request_id: valid.requestId,
          port: 3390,
          owner: "alice",
          settings: { security_layer: 2, max_sessions: 3 },
          wait_timeout: "1.5s",
        },
      ];
      for (const protocol of ["connect", "grpc", "connect-stream"] as const) {
        for (const body of bodies) {
          const path = protocol === "connect-stream" ? watch : start;
          const sent = protocol === "connect-stream" ? { instance_id: "" } : body;
          const res = await callWire(server.url, protocol, path, [json(sent)], { json: true });
          expect(res.code, `${protocol}: ${res.message}`).toBeUndefined();
        }
      }
    });
  });

  describe("malformed messages", () => {
    const cases: {
      name: string;
      protocol: WireProtocol;
      body: Uint8Array;
      json?: boolean;
      field?: string;
    }[] = [
      { name: "truncated protobuf", protocol: "connect", body: Uint8Array.of(0x0a, 0x05, 0x61) },
      { name: "truncated protobuf", protocol: "grpc", body: Uint8Array.of(0x0a, 0x05, 0x61) },
      { name: "truncated protobuf", protocol: "grpc-web", body: Uint8Array.of(0x0a, 0x05, 0x61) },
      {
        name: "invalid UTF-8 in a string field",
        protocol: "connect",
        body: Uint8Array.of(0x0a, 0x01, 0xff),
        field: "message",
      },
      {
        name: "invalid UTF-8 in a string field",
        protocol: "grpc",
        body: Uint8Array.of(0x0a, 0x01, 0xff),
        field: "message",
      },
      {
        name: "invalid UTF-8 in a JSON body",
        protocol: "connect",
        body: Buffer.concat([Buffer.from('{"message":"'), Uint8Array.of(0xff), Buffer.from('"}')]),
        json: true,
      },
      {
        name: "invalid UTF-8 in a JSON body",
        protocol: "grpc",
        body: Buffer.concat([Buffer.from('{"message":"'), Uint8Array.of(0xc3), Buffer.from('"}')]),
        json: true,
      },
      { name: "a body that is not JSON", protocol: "connect", body: Buffer.from("{"), json: true },
    ];
    for (const { name, protocol, body, json: isJson, field } of cases) {
      it(`answers ${name} over ${protocol} with INVALID_ARGUMENT, logged once with its request id`, async () => {
        const id = randomUUID();
        const res = await callWire(server.url, protocol, echo, [body], {
          json: isJson,
          headers: { "x-request-id": id },
        });
        expect(res.code, res.message).toBe(Code.InvalidArgument);
        if (field !== undefined) expect(violations(res)).toEqual([field]);
        if (protocol === "connect") expect(res.status).toBe(400);
        expect(res.headers["x-request-id"]).toBe(id);
        await expectLoggedOnce(id, "InvalidArgument");
      });
    }

    it("answers a bad Connect GET base64 message with 400 INVALID_ARGUMENT, logged once", async () => {
      const id = randomUUID();
      const res = await h2Request(
        server.url,
        `${echo}?connect=v1&encoding=proto&base64=1&message=${encodeURIComponent("!!*a")}`,
        { "x-request-id": id },
        [],
        { method: "GET" },
      );
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString()).code).toBe("invalid_argument");
      expect(res.headers["x-request-id"]).toBe(id);
      await expectLoggedOnce(id, "InvalidArgument");
    });

    it("raises malformed protobuf in a binary stream as INVALID_ARGUMENT", async () => {
      const res = await callWire(server.url, "grpc", reflect, [Uint8Array.of(0x3a, 0x05, 0x61)]);
      expect(res.code, res.message).toBe(Code.InvalidArgument);
    });
  });

  describe("refusals before the interceptors", () => {
    it("logs what connect refuses by itself once, with the request id it answers", async () => {
      const id = randomUUID();
      const res = await callWire(server.url, "connect", echo, [json({ message: "hi" })], {
        json: true,
        headers: { "x-request-id": id, "content-encoding": "zstd-unknown" },
      });
      expect(res.code).toBe(Code.Unimplemented);
      expect(res.headers["x-request-id"]).toBe(id);
      await expectLoggedOnce(id, "Unimplemented");
    });

    it("gives every RPC response an x-request-id, generated when the caller sent none", async () => {
      const res = await callWire(server.url, "grpc", echo, [Uint8Array.of(0x0a, 0x02, 0x68, 0x69)]);
      expect(res.code).toBeUndefined();
      expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe("metrics", () => {
    it("count a refused call and a client mistake with the code the client saw", async () => {
      await callWire(server.url, "connect", slow, [json({ delayMs: 1 })], {
        json: true,
        headers: { "content-encoding": "zstd-unknown" },
      });
      await callWire(server.url, "grpc", slow, [Uint8Array.of(0x08)]);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      for (const code of ["Unimplemented", "InvalidArgument"]) {
        expect(text).toMatch(
          new RegExp(
            `grpc_server_handled_total\\{[^}]*grpc_method="Slow"[^}]*grpc_code="${code}"\\} 1`,
          ),
        );
      }
    });
  });

  describe("timeouts", () => {
    const cases: { protocol: WireProtocol; header: Record<string, string> }[] = [
      { protocol: "grpc", header: { "grpc-timeout": "2147484S" } },
      { protocol: "grpc", header: { "grpc-timeout": "99999999H" } },
      { protocol: "connect", header: { "connect-timeout-ms": "2147483648" } },
      { protocol: "connect", header: { "connect-timeout-ms": "9999999999" } },
    ];
    for (const { protocol, header } of cases) {
      it(`clamps ${JSON.stringify(header)} instead of failing the call`, async () => {
        // A call that takes a while: an overflowed timer would end it at once.
        const res = await callWire(server.url, protocol, slow, [json({ delayMs: 200 })], {
          json: true,
          headers: header,
        });
        expect(res.code, res.message).toBeUndefined();
      });
    }
  });
});
