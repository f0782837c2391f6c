/**
 * ListSessions and ListAuditEvents through the service (memory stores, in-memory transport): a
 * page token the list did not issue is INVALID_ARGUMENT naming page_token, never ignored.
 */
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { ServerManagerService } from "@lucid-rdp/gen";
import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { foreignPageToken, refusalOf } from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";
import { sessionControllerSpecs } from "../src/store/specs.js";
import { serviceUnderTest } from "./support/service.js";

function setup() {
  const clock = () => new Date("2026-11-21T12:00:00Z");
  return serviceUnderTest({
    stores: createMemoryStores(sessionControllerSpecs, { now: clock }),
    coordination: createMemoryCoordination(),
    serverManager: createClient(
      ServerManagerService,
      createRouterTransport((router) => router.service(ServerManagerService, {})),
    ),
    logger: createLogger({ service: "test", level: "silent" }),
    clock,
  });
}

const refused = { code: Code.InvalidArgument, fields: ["page_token"] };

describe("SessionControllerHandler", () => {
  describe("listSessions()", () => {
    it("refuses a page token it did not issue, naming page_token", async () => {
      const { client } = setup();
      expect(await refusalOf(client.listSessions({ pageToken: "bm9wZQ" }))).toMatchObject(refused);
      expect(await refusalOf(client.listSessions({ pageToken: foreignPageToken }))).toMatchObject(
        refused,
      );
    });
  });

  describe("listAuditEvents()", () => {
    it("refuses a page token it did not issue, naming page_token", async () => {
      const { client } = setup();
      expect(await refusalOf(client.listAuditEvents({ pageToken: "bm9wZQ" }))).toMatchObject(
        refused,
      );
      expect(
        await refusalOf(client.listAuditEvents({ pageToken: foreignPageToken })),
      ).toMatchObject(refused);
    });
  });
});
