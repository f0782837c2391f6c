/**
 * server-manager as a real process (memory backends, three static nodes), called over gRPC: List
 * RPCs page and refuse a page token they did not issue with INVALID_ARGUMENT naming page_token; a
 * Duration with out-of-range nanos and a C1 control character are refused naming their field.
 */
import { Code } from "@connectrpc/connect";
import { ServerManagerService } from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { BadRequestSchema } from "@lucid-rdp/runtime";
import {
  type ChildServer,
  connectErrorOf,
  foreignPageToken,
  refusalOf,
  repoRoot,
  spawnService,
} from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const main = `${repoRoot}services/server-manager/src/main.ts`;
let svc: ChildServer | undefined;
const client = () => createNodeClient(ServerManagerService, { baseUrl: (svc as ChildServer).url });

const refused = {
  code: Code.InvalidArgument,
  fields: ["page_token"],
  reason: "INVALID_PAGE_TOKEN",
};

describe("server-manager List RPCs", () => {
  beforeAll(async () => {
    svc = await spawnService(main, {
      PORT: "0",
      LOG_LEVEL: "info",
      SERVER_MANAGER_NODES: "node-c=127.0.0.1:3391,node-a=127.0.0.1:3389,node-b=127.0.0.1:3390",
    });
  });
  afterAll(async () => {
    svc?.kill("SIGTERM");
    await svc?.exited;
  });

  describe("listNodes()", () => {
    it("pages by id with page_size and the returned token", async () => {
      const first = await client().listNodes({ pageSize: 2 });
      expect(first.nodes.map((n) => n.id)).toEqual(["node-a", "node-b"]);
      expect(first.nextPageToken).not.toBe("");
      const second = await client().listNodes({ pageSize: 2, pageToken: first.nextPageToken });
      expect(second.nodes.map((n) => n.id)).toEqual(["node-c"]);
      expect(second.nextPageToken).toBe("");
    });

    it("refuses a page token it did not issue, naming page_token", async () => {
      expect(await refusalOf(client().listNodes({ pageToken: "bm9wZQ" }))).toEqual(refused);
      expect(await refusalOf(client().listNodes({ pageToken: foreignPageToken }))).toEqual(refused);
    });
  });

  describe("createServer()", () => {
    it("refuses a wait_timeout whose nanos stretch it past a second, naming wait_timeout", async () => {
      const err = await connectErrorOf(
        client().createServer({
          requestId: "6f1c2d3e-4a5b-4c6d-8e7f-901234567890",
          owner: "alice",
          // 60 s + 1.5 s of nanos: under the 120 s limit, yet no valid Duration.
          waitTimeout: { seconds: 60n, nanos: 1_500_000_000 },
        }),
      );
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual([
        "wait_timeout",
      ]);
    });
  });

  describe("registerNode()", () => {
    it("refuses a C1 control character (U+009B, CSI) in status_message, naming it", async () => {
      const err = await connectErrorOf(
        client().registerNode({ statusMessage: "disk \u009b2J full" }),
      );
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toContain(
        "status_message",
      );
    });
  });

  describe("listServers()", () => {
    it("refuses a page token it did not issue, naming page_token", async () => {
      expect(await refusalOf(client().listServers({ pageToken: "bm9wZQ" }))).toEqual(refused);
      const nodes = Buffer.from("nodes:node-a").toString("base64url");
      expect(await refusalOf(client().listServers({ pageToken: nodes }))).toEqual(refused);
    });
  });
});
