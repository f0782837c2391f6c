/**
 * A peer that goes away under a call, with real servers and real processes: a stream refused by a
 * server that has begun shutdown (HTTP/2 REFUSED_STREAM) and a call cut by a peer killed with
 * SIGKILL reach callers of the generated node clients and the mesh clients as UNAVAILABLE, which
 * they retry; a call its caller cancelled, or that ran past its deadline, keeps its own code.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createNodeClient, type NodeClientOptions } from "@lucid-rdp/gen/node";
import { describe, expect, it } from "vitest";
import { createMeshClient } from "../src/index.js";
import { EchoService } from "./support/echo-service.js";
import { spawnEcho, startEcho } from "./support/harness.js";

const failure = (p: Promise<unknown>): Promise<ConnectError> =>
  p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );

/** Reads a whole server stream; resolves with its error. */
async function streamFailure(stream: AsyncIterable<unknown>): Promise<ConnectError> {
  let received = 0;
  try {
    for await (const _ of stream) received++;
  } catch (e) {
    expect(received).toBeGreaterThan(0);
    return ConnectError.from(e);
  }
  throw new Error("expected the stream to fail");
}

/** The error a refused stream must be, whatever the transport first called it. */
function expectRefused(err: ConnectError): void {
  expect(Code[err.code]).toBe(Code[Code.Unavailable]);
  expect(err.rawMessage).toMatch(/refused .* shutting down/);
  expect(ConnectError.from(err.cause).message).toMatch(/REFUSED_STREAM/);
}

/** The error a call cut by a killed peer must be. */
function expectLost(err: ConnectError): void {
  expect(Code[err.code]).toBe(Code[Code.Unavailable]);
  expect(err.rawMessage).toMatch(/connection to the peer was lost/);
  expect(err.cause).toBeInstanceOf(ConnectError);
}

const variants: Array<[string, Omit<NodeClientOptions, "baseUrl">]> = [
  ["gRPC", { protocol: "grpc" }],
  ["Connect over HTTP/2", { protocol: "connect" }],
  ["Connect JSON over HTTP/1.1", { protocol: "connect", useJson: true, httpVersion: "1.1" }],
];

describe("createNodeClient()", () => {
  describe.each(variants)("over %s", (_name, opts) => {
    // HTTP/1.1 has no streams to refuse: a server shutting down closes its connections.
    const h2 = opts.httpVersion !== "1.1";
    if (h2)
      it("turns a stream refused by a server that has begun shutdown into UNAVAILABLE", async () => {
        const server = await startEcho({ SHUTDOWN_GRACE_MS: "5000" });
        const client = createNodeClient(EchoService, { baseUrl: server.url, ...opts });
        await client.echo({ message: "warm" });
        // A call in flight keeps the connection open through the GOAWAY.
        const inFlight = client.slow({ delayMs: 300 });
        await new Promise((r) => setTimeout(r, 50));
        // Opened before the GOAWAY reaches the client, beyond its last stream: refused.
        const late = failure(client.echo({ message: "late" }));
        const stopping = server.shutdown();
        expectRefused(await late);
        expect((await inFlight).waitedMs).toBeGreaterThanOrEqual(250);
        await stopping;
      });

    it("turns a unary call and a server stream cut by a SIGKILLed peer into UNAVAILABLE", async () => {
      const s = await spawnEcho({});
      try {
        const client = createNodeClient(EchoService, { baseUrl: s.url, ...opts });
        const unary = failure(client.slow({ delayMs: 10_000 }));
        const stream = streamFailure(
          client.echoStream({ message: "m", count: 1000, intervalMs: 50 }),
        );
        await new Promise((r) => setTimeout(r, 500));
        s.kill("SIGKILL");
        expectLost(await unary);
        expectLost(await stream);
      } finally {
        s.kill("SIGKILL");
        await s.exited;
      }
    });

    it("keeps CANCELLED for a unary call and a stream their caller aborted", async () => {
      const server = await startEcho();
      try {
        const client = createNodeClient(EchoService, { baseUrl: server.url, ...opts });
        const ac = new AbortController();
        const unary = failure(client.slow({ delayMs: 10_000 }, { signal: ac.signal }));
        const stream = streamFailure(
          client.echoStream({ message: "m", count: 1000, intervalMs: 50 }, { signal: ac.signal }),
        );
        await new Promise((r) => setTimeout(r, 300));
        ac.abort();
        expect(Code[(await unary).code]).toBe(Code[Code.Canceled]);
        expect(Code[(await stream).code]).toBe(Code[Code.Canceled]);
      } finally {
        await server.shutdown();
      }
    });

    it("keeps DEADLINE_EXCEEDED for a call past its deadline", async () => {
      const server = await startEcho();
      try {
        const client = createNodeClient(EchoService, { baseUrl: server.url, ...opts });
        const err = await failure(client.slow({ delayMs: 10_000 }, { timeoutMs: 200 }));
        expect(Code[err.code]).toBe(Code[Code.DeadlineExceeded]);
        const streamErr = await streamFailure(
          client.echoStream({ message: "m", count: 1000, intervalMs: 50 }, { timeoutMs: 300 }),
        );
        expect(Code[streamErr.code]).toBe(Code[Code.DeadlineExceeded]);
      } finally {
        await server.shutdown();
      }
    });
  });
});

describe("createMeshClient()", () => {
  it("retries an idempotent call refused at shutdown; the replacement on the same port answers", async () => {
    const old = await startEcho({ SHUTDOWN_GRACE_MS: "5000" });
    const mesh = createMeshClient(EchoService, {
      baseUrl: old.url,
      maxAttempts: 6,
      backoffMs: 100,
    });
    await mesh.echo({ message: "warm" });
    const inFlight = mesh.slow({ delayMs: 300 });
    await new Promise((r) => setTimeout(r, 50));
    const late = mesh.echo({ message: "late" });
    const stopping = old.shutdown();
    // The listener closed at once: the replacement takes the port while the old one drains.
    const replacement = await startEcho({ PORT: String(old.port) });
    try {
      expect((await late).message).toBe("late");
      await inFlight;
      await stopping;
    } finally {
      await replacement.shutdown();
    }
  });

  it("gives UNAVAILABLE for a call that is not idempotent cut by a SIGKILLed peer", async () => {
    const s = await spawnEcho({});
    try {
      const mesh = createMeshClient(EchoService, { baseUrl: s.url, deadlineMs: 20_000 });
      const call = failure(mesh.slow({ delayMs: 10_000 }));
      await new Promise((r) => setTimeout(r, 500));
      s.kill("SIGKILL");
      expectLost(await call);
    } finally {
      s.kill("SIGKILL");
      await s.exited;
    }
  });
});
