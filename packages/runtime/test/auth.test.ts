/**
 * Auth end to end: a server with AUTH_JWT_SECRET, called through the generated client over gRPC
 * with real JWTs signed by `jose`.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../src/gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
} from "../src/gen/grpc/reflection/v1/reflection_pb.js";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";

const secret = "test-secret-of-at-least-thirty-two-characters!";
const env = {
  AUTH_JWT_SECRET: secret,
  AUTH_ISSUER: "https://auth.lucid.test",
  AUTH_AUDIENCE: "lucid-rdp",
};

let server: InProcessServer;
beforeAll(async () => {
  server = await startEcho(env);
});
afterAll(async () => {
  await server?.shutdown();
});

async function token(
  claims: { roles?: string[]; aud?: string; iss?: string; expSeconds?: number } = {},
  key = secret,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: claims.roles ?? ["viewer"] })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("alice")
    .setIssuer(claims.iss ?? env.AUTH_ISSUER)
    .setAudience(claims.aud ?? env.AUTH_AUDIENCE)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (claims.expSeconds ?? 300))
    .sign(new TextEncoder().encode(key));
}

function client(bearer?: string) {
  return createClient(
    EchoService,
    createGrpcTransport({
      baseUrl: server.url,
      interceptors: bearer
        ? [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${bearer}`);
              return next(req);
            },
          ]
        : [],
    }),
  );
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

describe("auth interceptor", () => {
  it("refuses a call without a token with UNAUTHENTICATED", async () => {
    expect(await codeOf(client().echo({ message: "hi" }))).toBe(Code.Unauthenticated);
  });

  it("refuses a token with a bad signature", async () => {
    const forged = await token({}, "another-secret-of-at-least-thirty-two-chars!!");
    expect(await codeOf(client(forged).echo({ message: "hi" }))).toBe(Code.Unauthenticated);
  });

  it("refuses an expired token", async () => {
    const expired = await token({ expSeconds: -30 });
    const err = await client(expired)
      .echo({ message: "hi" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect((err as ConnectError).rawMessage).toContain("exp");
  });

  it("refuses a token for another audience", async () => {
    const other = await token({ aud: "someone-else" });
    expect(await codeOf(client(other).echo({ message: "hi" }))).toBe(Code.Unauthenticated);
  });

  it("refuses a token from another issuer", async () => {
    const other = await token({ iss: "https://evil.test" });
    expect(await codeOf(client(other).echo({ message: "hi" }))).toBe(Code.Unauthenticated);
  });

  it("refuses a role the method does not allow with PERMISSION_DENIED naming the roles", async () => {
    const viewer = await token({ roles: ["viewer"] });
    const err = ConnectError.from(
      await client(viewer)
        .slow({ delayMs: 0 })
        .catch((e: unknown) => e),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain("operator");
  });

  it("lets a good token with an allowed role through, on unary and streaming calls", async () => {
    const viewer = await token({ roles: ["viewer"] });
    expect((await client(viewer).echo({ message: "hi" })).message).toBe("hi");
    const operator = await token({ roles: ["operator"] });
    expect((await client(operator).slow({ delayMs: 1 })).waitedMs).toBeGreaterThanOrEqual(0);
    const got: number[] = [];
    for await (const m of client(viewer).echoStream({ message: "s", count: 2 })) got.push(m.index);
    expect(got).toEqual([0, 1]);
  });

  it("keeps health, reflection and /metrics open", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    const reflection = createClient(ServerReflection, createGrpcTransport({ baseUrl: server.url }));
    async function* ask() {
      yield create(ServerReflectionRequestSchema, {
        messageRequest: { case: "listServices", value: "" },
      });
    }
    for await (const res of reflection.serverReflectionInfo(ask())) {
      expect(res.messageResponse.case).toBe("listServicesResponse");
    }
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it("answers Connect JSON without a token with HTTP 401", async () => {
    const res = await fetch(`${server.url}/lucid.rdp.testing.v1.EchoService/Echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "hi" }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
  });
});
