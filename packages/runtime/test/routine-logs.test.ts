/**
 * Quiet logs at idle: a routine call (a peer's read through the mesh client, or one marked with
 * the routine header, like a node's heartbeat) that succeeds is logged at debug; a user's call at
 * info; a routine call that fails is logged as any failure.
 */
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { connectErrorOf } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMeshClient } from "../src/mesh-client.js";
import { routineHeader } from "../src/observe.js";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";

let server: InProcessServer;
beforeAll(async () => {
  server = await startEcho();
});
afterAll(async () => {
  await server?.shutdown();
});

/** The level of the one "rpc" line logged for `requestId`. */
function levelOf(requestId: string): unknown {
  const lines = server.logs.filter((l) => l.requestId === requestId);
  expect(lines, JSON.stringify(lines)).toHaveLength(1);
  return lines[0]?.level;
}

describe("observeInterceptor()", () => {
  it("logs a peer's read through the mesh client at debug when it succeeds", async () => {
    const mesh = createMeshClient(EchoService, { baseUrl: server.url });
    await mesh.echo({ message: "poll" }, { headers: { "x-request-id": "routine-read" } });
    expect(levelOf("routine-read")).toBe("debug");
  });

  it("logs a user's call at info", async () => {
    const user = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
    await user.echo({ message: "hi" }, { headers: { "x-request-id": "user-read" } });
    expect(levelOf("user-read")).toBe("info");
  });

  it("logs a call marked routine that fails as any failure", async () => {
    const mesh = createMeshClient(EchoService, { baseUrl: server.url, maxAttempts: 1 });
    const err = await connectErrorOf(
      mesh.fail(
        { code: Code.Unavailable },
        { headers: { "x-request-id": "routine-fail", [routineHeader]: "heartbeat" } },
      ),
    );
    expect(err?.code).toBe(Code.Unavailable);
    expect(levelOf("routine-fail")).toBe("warn");
  });
});
