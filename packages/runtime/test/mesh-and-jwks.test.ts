/**
 * Peer calls as the services make them (createMeshClient: deadline on every call, bearer token),
 * against a server that verifies tokens from a real JWKS endpoint (asymmetric keys, as an
 * identity provider would publish them).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMeshClient } from "../src/index.js";
import { EchoService } from "./support/echo-service.js";
import { type InProcessServer, startEcho } from "./support/harness.js";

let jwks: Server;
let server: InProcessServer;
let sign: (roles: string[]) => Promise<string>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  jwks = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  sign = (roles) =>
    new SignJWT({ roles })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setSubject("session-controller")
      .setAudience("lucid-rdp")
      .setExpirationTime("5m")
      .sign(privateKey);
  server = await startEcho({
    AUTH_JWKS_URL: jwksUrl,
    AUTH_AUDIENCE: "lucid-rdp",
    AUTH_ALGORITHMS: "ES256",
  });
});

afterAll(async () => {
  await server?.shutdown();
  jwks?.close();
});

describe("createMeshClient()", () => {
  it("calls a peer that verifies tokens against a JWKS URL", async () => {
    const client = createMeshClient(EchoService, {
      baseUrl: server.url,
      token: () => sign(["operator"]),
    });
    expect((await client.echo({ message: "mesh" })).message).toBe("mesh");
  });

  it("is refused when the peer's role rules say so", async () => {
    const client = createMeshClient(EchoService, {
      baseUrl: server.url,
      token: () => sign(["viewer"]),
    });
    const err = ConnectError.from(await client.slow({ delayMs: 0 }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.PermissionDenied);
  });

  it("puts a deadline on every call", async () => {
    const client = createMeshClient(EchoService, {
      baseUrl: server.url,
      deadlineMs: 200,
      token: () => sign(["operator"]),
    });
    const err = ConnectError.from(await client.slow({ delayMs: 5000 }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.DeadlineExceeded);
  });
});
