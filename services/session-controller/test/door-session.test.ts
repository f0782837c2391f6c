/**
 * A session on a server behind its node's RDP front door (issue 18), through the service's client
 * on createRouterTransport with memory stores and a fake server-manager: the READY session keeps
 * its server's routing token, which its connect info carries as `routing_token` and in the .rdp
 * file as `loadbalanceinfo:s:`, the same file GET /sessions/{id}.rdp serves over a real HTTP
 * socket. A session on a node without a door has neither.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import {
  CreateServerResponseSchema,
  DeleteServerResponseSchema,
  EndpointSchema,
  ServerManagerService,
  ServerSchema,
  ServerState,
  SessionState,
} from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { afterEach, describe, expect, it } from "vitest";
import { sessionControllerSpecs } from "../src/store/specs.js";
import { serviceUnderTest } from "./support/service.js";

const token = "lr1-Qm9vdHN0cmFwLXRva2VuLWZvci10ZXN0cw";

/** A server-manager whose servers are READY behind a door (port 3389, a token) or on 3400. */
function setup(door: boolean) {
  const clock = () => new Date("2026-12-06T15:00:00Z");
  const serverManager = createClient(
    ServerManagerService,
    createRouterTransport((router) =>
      router.service(ServerManagerService, {
        createServer: (req) =>
          create(CreateServerResponseSchema, {
            server: create(ServerSchema, {
              id: randomUUID(),
              nodeId: "node-1",
              owner: req.owner,
              sessionId: req.sessionId,
              state: ServerState.READY,
              endpoint: create(EndpointSchema, { host: "10.0.0.5", port: door ? 3389 : 3400 }),
              routingToken: door ? token : "",
            }),
          }),
        deleteServer: (req) =>
          create(DeleteServerResponseSchema, {
            server: create(ServerSchema, { id: req.serverId, state: ServerState.STOPPED }),
          }),
      }),
    ),
  );
  return serviceUnderTest({
    stores: createMemoryStores(sessionControllerSpecs, { now: clock }),
    coordination: createMemoryCoordination(),
    serverManager,
    logger: createLogger({ service: "test", level: "silent" }),
    clock,
  });
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** GET `path` from the service's HTTP routes, served on a loopback port of its own. */
async function get(http: ReturnType<typeof setup>["http"], path: string) {
  const server = createServer((req, res) => {
    void Promise.resolve(http(req, res)).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  return fetch(`http://127.0.0.1:${port}${path}`);
}

const request = () => ({
  requestId: randomUUID(),
  user: "alice",
  waitTimeout: { seconds: 30n, nanos: 0 },
});

describe("SessionController", () => {
  describe("createSession() on a node with an RDP front door", () => {
    it("answers a READY session whose connect info and .rdp file carry the server's token", async () => {
      const t = setup(true);
      const { session } = await t.client.createSession(request());
      expect(session?.state).toBe(SessionState.READY);
      const info = session?.connectInfo;
      expect(info?.endpoint).toMatchObject({ host: "10.0.0.5", port: 3389 });
      expect(info?.routingToken).toBe(token);
      expect(info?.rdpFile).toContain("full address:s:10.0.0.5:3389\r\n");
      expect(info?.rdpFile).toContain(`\r\nloadbalanceinfo:s:${token}\r\n`);
      const again = await t.client.getSession({ sessionId: session?.id ?? "" });
      expect(again.session?.connectInfo?.routingToken).toBe(token);

      const res = await get(t.http, `/sessions/${session?.id}.rdp`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/x-rdp");
      const body = await res.text();
      expect(body).toBe(info?.rdpFile);
      expect(body.split("\r\n")).toContain(`loadbalanceinfo:s:${token}`);
    });
  });

  describe("createSession() on a node without a door", () => {
    it("answers connect info without a token, and an .rdp file without loadbalanceinfo", async () => {
      const t = setup(false);
      const { session } = await t.client.createSession(request());
      expect(session?.state).toBe(SessionState.READY);
      expect(session?.connectInfo?.routingToken).toBe("");
      expect(session?.connectInfo?.endpoint?.port).toBe(3400);
      const res = await get(t.http, `/sessions/${session?.id}.rdp`);
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain("loadbalanceinfo");
    });
  });
});
