/**
 * How a stream ends, as its client sees it and as the metrics and the log count it, with real
 * clients over real sockets: a Watch-like stream (Ticks returns normally once its signal aborts)
 * ends DEADLINE_EXCEEDED past its deadline and UNAVAILABLE across a shutdown, on gRPC, gRPC-web
 * and Connect; a stream its client cancels is counted Canceled and logged at info, not as a fault.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient, grpcurl, toolOrSkip, waitFor } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
} from "../src/gen/grpc/reflection/v1/reflection_pb.js";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";
import { metricValue } from "./support/read-metric.js";

interface Variant {
  readonly name: string;
  readonly transport: (baseUrl: string) => Transport;
  /** The header carrying a deadline in this protocol, set by hand so that only the server keeps it. */
  readonly timeoutHeader: (ms: number) => Record<string, string>;
}

const grpcTimeout = (ms: number) => ({ "grpc-timeout": `${ms}m` });
const variants: Variant[] = [
  {
    name: "gRPC",
    transport: (baseUrl) => createGrpcTransport({ baseUrl }),
    timeoutHeader: grpcTimeout,
  },
  {
    name: "gRPC-web over HTTP/1.1",
    transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    timeoutHeader: grpcTimeout,
  },
  {
    name: "Connect JSON over HTTP/1.1",
    transport: (baseUrl) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    timeoutHeader: (ms) => ({ "connect-timeout-ms": String(ms) }),
  },
  {
    name: "Connect binary over HTTP/2",
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }),
    timeoutHeader: (ms) => ({ "connect-timeout-ms": String(ms) }),
  },
];

/** How a stream ended: the messages read and the code (OK when it ended normally). */
interface StreamEnd {
  readonly received: number;
  readonly code: string;
  readonly error?: ConnectError;
}

/** Reads a stream to its end, calling `onMessage` after each message. */
async function endOf(
  stream: AsyncIterable<unknown>,
  onMessage: (received: number) => void = () => {},
): Promise<StreamEnd> {
  let received = 0;
  try {
    for await (const _ of stream) onMessage(++received);
  } catch (e) {
    const error = ConnectError.from(e);
    return { received, code: Code[error.code], error };
  }
  return { received, code: "OK" };
}

const ticks = {
  grpc_type: "server_stream",
  grpc_service: EchoService.typeName,
  grpc_method: "Ticks",
};
const reflection = {
  grpc_type: "bidi_stream",
  grpc_service: ServerReflection.typeName,
  grpc_method: "ServerReflectionInfo",
};

/** grpc_server_handled_total of `labels` with `code`, on `server`. */
async function handled(
  server: InProcessServer,
  labels: Record<string, string>,
  code: string,
): Promise<number> {
  return metricValue(await server.metrics.metrics(), "grpc_server_handled_total", {
    ...labels,
    grpc_code: code,
  });
}

/** The log lines of the calls of `rpc` ("Service/Method"), after the first `from` lines. */
function callLines(server: InProcessServer, rpc: string, from = 0): Record<string, unknown>[] {
  return server.logs.slice(from).filter((l) => l.rpc === rpc);
}

describe("stream ends", () => {
  let server: InProcessServer;
  beforeAll(async () => {
    server = await startEcho();
  });
  afterAll(async () => {
    await server?.shutdown();
  });

  describe.each(variants)("over $name", ({ transport, timeoutHeader }) => {
    it("ends a Watch-like stream past its deadline with DEADLINE_EXCEEDED and counts it so", async () => {
      const before = await handled(server, ticks, "DeadlineExceeded");
      const client = createClient(EchoService, transport(server.url));
      // No client-side deadline: the code is the one the server sent. (A machine too busy to
      // start the handler within the deadline gets DEADLINE_EXCEEDED too, with no message.)
      const end = await endOf(client.ticks({ intervalMs: 20 }, { headers: timeoutHeader(1000) }));
      expect(end.code).toBe("DeadlineExceeded");
      await waitFor(
        "Ticks counted DeadlineExceeded",
        () => handled(server, ticks, "DeadlineExceeded"),
        {
          until: (n) => n === before + 1,
          timeoutMs: 10_000,
        },
      );
    });

    it("counts a stream its client cancelled as Canceled and logs it at info", async () => {
      const before = await handled(server, ticks, "Canceled");
      const from = server.logs.length;
      const client = createClient(EchoService, transport(server.url));
      const ac = new AbortController();
      const end = await endOf(client.ticks({ intervalMs: 20 }, { signal: ac.signal }), (n) => {
        if (n === 2) ac.abort();
      });
      expect(end.code).toBe("Canceled");
      await waitFor("Ticks counted Canceled", () => handled(server, ticks, "Canceled"), {
        until: (n) => n === before + 1,
        timeoutMs: 10_000,
      });
      const lines = callLines(server, `${EchoService.typeName}/Ticks`, from);
      expect(lines.map((l) => [l.level, l.code, l.msg])).toEqual([["info", "Canceled", "rpc"]]);
    });
  });

  it("counts a reflection stream its client cancelled as Canceled and logs it at info", async () => {
    const before = await handled(server, reflection, "Canceled");
    const from = server.logs.length;
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: server.url }));
    const ac = new AbortController();
    const cancelled = new Promise((r) => ac.signal.addEventListener("abort", r));
    async function* requests() {
      yield { host: "", messageRequest: { case: "listServices" as const, value: "" } };
      // The request stream stays open: the client cancels the call instead of closing it.
      await cancelled;
    }
    const end = await endOf(client.serverReflectionInfo(requests(), { signal: ac.signal }), () =>
      ac.abort(),
    );
    expect(end).toMatchObject({ received: 1, code: "Canceled" });
    await waitFor("reflection counted Canceled", () => handled(server, reflection, "Canceled"), {
      until: (n) => n === before + 1,
      timeoutMs: 10_000,
    });
    expect(await handled(server, reflection, "Internal")).toBe(0);
    const lines = callLines(server, `${ServerReflection.typeName}/ServerReflectionInfo`, from);
    expect(lines.map((l) => [l.level, l.code, l.msg])).toEqual([["info", "Canceled", "rpc"]]);
  });
});

describe("calls that fail because their client went away", () => {
  it("counts a handler's own failure after its client cancelled as Canceled, logged at info", async () => {
    // A handler that does not rethrow the signal's reason, as a store driver reports a cancelled
    // operation with its own error: the client cancelled, so that is no server fault.
    const server = await startEcho(
      {},
      {
        routes: (router) =>
          router.service(EchoService, {
            async slow(_req, ctx) {
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
              throw new Error("connection reset while reading the reply");
            },
          }),
      },
    );
    try {
      const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
      const ac = new AbortController();
      const call = client.slow({ delayMs: 60_000 }, { signal: ac.signal });
      const rpc = `${EchoService.typeName}/Slow`;
      await waitFor("the call started", () => server.metrics.metrics(), {
        until: (text) =>
          metricValue(text, "grpc_server_started_total", { grpc_method: "Slow" }) > 0,
      });
      ac.abort();
      await expect(call).rejects.toThrow();
      await waitFor("the call logged", () => callLines(server, rpc).length, {
        until: (n) => n === 1,
        timeoutMs: 10_000,
      });
      expect(callLines(server, rpc).map((l) => [l.level, l.code, l.msg])).toEqual([
        ["info", "Canceled", "rpc"],
      ]);
      const slow = { grpc_type: "unary", grpc_service: EchoService.typeName, grpc_method: "Slow" };
      expect(await handled(server, slow, "Canceled")).toBe(1);
      expect(await handled(server, slow, "Internal")).toBe(0);
    } finally {
      await server.shutdown();
    }
  });
});

describe("stream ends seen by grpc-js", () => {
  it("counts a reflection stream grpc-js cancelled as Canceled and logs it at info", async () => {
    const server = await startEcho();
    try {
      const client = createGrpcJsClient(
        ServerReflection,
        `127.0.0.1:${server.port}`,
      ) as grpc.Client & Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>;
      const call = client.serverReflectionInfo?.() as grpc.ClientDuplexStream<unknown, unknown>;
      const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      call.on("error", () => undefined);
      call.on("data", () => call.cancel());
      call.write(
        create(ServerReflectionRequestSchema, {
          messageRequest: { case: "listServices", value: "" },
        }),
      );
      expect(Code[(await status).code]).toBe("Canceled");
      const rpc = `${ServerReflection.typeName}/ServerReflectionInfo`;
      await waitFor("the reflection stream logged", () => callLines(server, rpc).length, {
        until: (n) => n === 1,
        timeoutMs: 10_000,
      });
      expect(callLines(server, rpc).map((l) => [l.level, l.code, l.msg])).toEqual([
        ["info", "Canceled", "rpc"],
      ]);
      expect(await handled(server, reflection, "Canceled")).toBe(1);
      client.close();
    } finally {
      await server.shutdown();
    }
  });
});

describe("stream ends seen by grpcurl", () => {
  it("counts the reflection streams grpcurl drops as Canceled or OK, never as a fault", async (ctx) => {
    const bin = toolOrSkip(ctx, "grpcurl");
    const server = await startEcho();
    try {
      const address = `127.0.0.1:${server.port}`;
      expect((await grpcurl(bin, address, { verb: ["list"] })).code).toBe(0);
      const described = await grpcurl(bin, address, { verb: ["describe", EchoService.typeName] });
      expect(described.code).toBe(0);
      const rpc = `${ServerReflection.typeName}/ServerReflectionInfo`;
      await waitFor("two reflection streams logged", () => callLines(server, rpc).length, {
        until: (n) => n >= 2,
        timeoutMs: 10_000,
      });
      const lines = callLines(server, rpc);
      for (const l of lines) {
        expect([l.level, l.msg]).toEqual(["info", "rpc"]);
        expect(["OK", "Canceled"]).toContain(l.code);
      }
      expect(await handled(server, reflection, "Internal")).toBe(0);
      expect(await handled(server, reflection, "Unknown")).toBe(0);
    } finally {
      await server.shutdown();
    }
  });
});

describe("stream ends across a shutdown", () => {
  it("ends Watch-like streams with UNAVAILABLE on every protocol and counts them so", async () => {
    const server = await startEcho({ SHUTDOWN_GRACE_MS: "10000" });
    let stopping: Promise<void> | undefined;
    try {
      const opened = variants.map(() => false);
      const ends = variants.map((v, i) =>
        endOf(createClient(EchoService, v.transport(server.url)).ticks({ intervalMs: 20 }), () => {
          opened[i] = true;
        }),
      );
      await waitFor("a message on every stream", () => opened.every(Boolean), {
        until: (all) => all,
        intervalMs: 10,
      });
      stopping = server.shutdown();
      const codes = await Promise.all(ends);
      expect(codes.map((e) => e.code)).toEqual(variants.map(() => "Unavailable"));
      await stopping;
      expect(await handled(server, ticks, "Unavailable")).toBe(variants.length);
      expect(await handled(server, ticks, "OK")).toBe(0);
    } finally {
      await (stopping ?? server.shutdown());
    }
  });
});
