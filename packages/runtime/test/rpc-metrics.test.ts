/**
 * go-grpc-prometheus's message counters on /metrics, read by a real scrape of a real server:
 * grpc_server_msg_received_total and grpc_server_msg_sent_total count each message as it passes,
 * labelled like the other RPC metrics (grpc_type, grpc_service, grpc_method).
 */
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflection } from "../src/gen/grpc/reflection/v1/reflection_pb.js";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";
import { readMetric } from "./support/read-metric.js";

let server: InProcessServer;
beforeAll(async () => {
  server = await startEcho();
});
afterAll(async () => {
  await server?.shutdown();
});

/** The two message counters of one method, read from /metrics. */
async function messages(labels: Record<string, string>) {
  return {
    received: await readMetric(server.url, "grpc_server_msg_received_total", labels),
    sent: await readMetric(server.url, "grpc_server_msg_sent_total", labels),
  };
}

/** What the counters of `labels` gained while `fn` ran. */
async function counted(labels: Record<string, string>, fn: () => Promise<void>) {
  const before = await messages(labels);
  await fn();
  const after = await messages(labels);
  return { received: after.received - before.received, sent: after.sent - before.sent };
}

const echo = (method: string, type: string) => ({
  grpc_type: type,
  grpc_service: EchoService.typeName,
  grpc_method: method,
});

describe("RPC message metrics", () => {
  it("exposes both counters with their HELP and TYPE", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain("# TYPE grpc_server_msg_received_total counter");
    expect(text).toContain("# TYPE grpc_server_msg_sent_total counter");
    expect(text).toMatch(/# HELP grpc_server_msg_received_total \S/);
    expect(text).toMatch(/# HELP grpc_server_msg_sent_total \S/);
  });

  it("counts one message received and one sent for a unary call, on gRPC and Connect", async () => {
    const grpc = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
    const connect = createClient(
      EchoService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
    );
    const delta = await counted(echo("Echo", "unary"), async () => {
      await grpc.echo({ message: "a" });
      await connect.echo({ message: "b" });
    });
    expect(delta).toEqual({ received: 2, sent: 2 });
  });

  it("counts the request but no response of a unary call that fails", async () => {
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
    const delta = await counted(echo("Fail", "unary"), async () => {
      await expect(client.fail({ code: Code.NotFound })).rejects.toThrow();
    });
    expect(delta).toEqual({ received: 1, sent: 0 });
  });

  it("counts each message of a server stream of N messages", async () => {
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
    const n = 7;
    const delta = await counted(echo("EchoStream", "server_stream"), async () => {
      let got = 0;
      for await (const _ of client.echoStream({ message: "m", count: n })) got++;
      expect(got).toBe(n);
    });
    expect(delta).toEqual({ received: 1, sent: n });
  });

  it("counts each message both ways of a bidi reflection stream", async () => {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: server.url }));
    const requests = [
      { host: "", messageRequest: { case: "listServices" as const, value: "" } },
      {
        host: "",
        messageRequest: { case: "fileContainingSymbol" as const, value: EchoService.typeName },
      },
      { host: "", messageRequest: { case: "fileByFilename" as const, value: "no/such.proto" } },
    ];
    async function* send() {
      yield* requests;
    }
    const delta = await counted(
      {
        grpc_type: "bidi_stream",
        grpc_service: ServerReflection.typeName,
        grpc_method: "ServerReflectionInfo",
      },
      async () => {
        let got = 0;
        for await (const _ of client.serverReflectionInfo(send())) got++;
        expect(got).toBe(requests.length);
      },
    );
    expect(delta).toEqual({ received: requests.length, sent: requests.length });
  });
});
