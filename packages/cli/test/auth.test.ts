/**
 * The CLI's bearer token against a real server with auth on (AUTH_JWT_SECRET): the runtime's
 * startServer in this process, serving server-manager's ListNodes, called by the real bin.
 * Without a token the CLI exits 16 with a hint; LUCID_TOKEN or --token (which wins) gets through.
 */
import { create } from "@bufbuild/protobuf";
import { ListNodesResponseSchema, NodeHealth, ServerManagerService } from "@lucid-rdp/gen";
import {
  createLogger,
  type RunningServer,
  readRuntimeConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lucidRdp } from "./support/run-lucid-rdp.js";

const secret = "cli-test-secret-of-at-least-thirty-two-characters";
const authEnv = {
  AUTH_JWT_SECRET: secret,
  AUTH_ISSUER: "https://auth.lucid.test",
  AUTH_AUDIENCE: "lucid-rdp",
};

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({
    config: readRuntimeConfig({ serviceName: "server-manager", port: 0 }, authEnv),
    logger: createLogger({ service: "server-manager", level: "silent" }),
    services: [ServerManagerService],
    routes: (router) =>
      router.service(ServerManagerService, {
        listNodes: () =>
          create(ListNodesResponseSchema, {
            nodes: [{ id: "node-a", health: NodeHealth.HEALTHY, maxServers: 4 }],
          }),
      }),
  });
});
afterAll(async () => {
  await server?.shutdown();
});

/** A viewer's token, signed with `key`. */
function token(key = secret): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: ["viewer"] })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("operator")
    .setIssuer(authEnv.AUTH_ISSUER)
    .setAudience(authEnv.AUTH_AUDIENCE)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(key));
}

describe("lucid-rdp --token / LUCID_TOKEN", () => {
  it("exits 16 with a hint when no token is given", async () => {
    const run = await lucidRdp(["nodes", "ls"], { LUCID_SERVER_MANAGER_URL: server.url });
    expect(run.code).toBe(16);
    expect(run.stderr).toMatch(/^error: UNAUTHENTICATED: /);
    expect(run.stderr).toContain("give a token with --token or LUCID_TOKEN");
  });

  it("sends LUCID_TOKEN as a bearer token", async () => {
    const run = await lucidRdp(["nodes", "ls"], {
      LUCID_SERVER_MANAGER_URL: server.url,
      LUCID_TOKEN: await token(),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/node-a +HEALTHY +no +0\/4/);
  });

  it("prefers --token over LUCID_TOKEN", async () => {
    const run = await lucidRdp(["--token", await token(), "--json", "nodes", "ls"], {
      LUCID_SERVER_MANAGER_URL: server.url,
      LUCID_TOKEN: await token("another-secret-of-at-least-thirty-two-chars"),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      expect.objectContaining({ id: "node-a", health: "NODE_HEALTH_HEALTHY" }),
    ]);
  });
});
