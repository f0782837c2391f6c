/**
 * ListSessions and ListAuditEvents through the service (memory stores, in-memory transport): a
 * page token the list did not issue is INVALID_ARGUMENT naming page_token, never ignored.
 */
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ServerManagerService } from "@lucid-rdp/gen";
import { BadRequestSchema, createLogger } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
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

/** The code and BadRequest fields of a refused call. */
async function refusal(call: Promise<unknown>) {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  return {
    code: err?.code,
    fields: err?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field),
  };
}

const refused = { code: Code.InvalidArgument, fields: ["page_token"] };
const foreign = Buffer.from('{"c":"servers","t":1,"i":"x"}').toString("base64url");

describe("SessionControllerHandler", () => {
  describe("listSessions()", () => {
    it("refuses a page token it did not issue, naming page_token", async () => {
      const { client } = setup();
      expect(await refusal(client.listSessions({ pageToken: "bm9wZQ" }))).toEqual(refused);
      expect(await refusal(client.listSessions({ pageToken: foreign }))).toEqual(refused);
    });
  });

  describe("listAuditEvents()", () => {
    it("refuses a page token it did not issue, naming page_token", async () => {
      const { client } = setup();
      expect(await refusal(client.listAuditEvents({ pageToken: "bm9wZQ" }))).toEqual(refused);
      expect(await refusal(client.listAuditEvents({ pageToken: foreign }))).toEqual(refused);
    });
  });
});
