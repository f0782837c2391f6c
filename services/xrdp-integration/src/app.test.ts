import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { XrdpIntegrationService } from "@lucid-rdp/gen";
import { createLogger, EnvReader, ErrorMapper } from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import { foreignPageToken, refusalOf } from "@lucid-rdp/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { readXrdpIntegrationConfig } from "./config.js";
import { errorRules } from "./error-rules.js";
import { xrdpIntegrationSpecs } from "./store/specs.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "xi-app-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** The service on memory backends, without xrdp, called through an in-memory transport. */
function inMemory() {
  const config = readXrdpIntegrationConfig(
    new EnvReader({
      XRDP_BIN: "/nonexistent/xrdp",
      XRDP_SESMAN: "off",
      XRDP_STATE_DIR: stateDir,
      NODE_ID: "node-a",
      EMBEDDED_STATE: "memory",
    }),
  );
  const logger = createLogger({ service: "test", level: "silent" });
  const backends = openBackends(config.storage, { specs: xrdpIntegrationSpecs, logger });
  const app = createApp(config, backends, {}, { logger });
  const mapper = new ErrorMapper(errorRules);
  const mapErrors: Interceptor = (next) => async (req) => {
    try {
      return await next(req);
    } catch (e) {
      throw mapper.map(e).error;
    }
  };
  const client = createClient(
    XrdpIntegrationService,
    createRouterTransport(app.routes, { router: { interceptors: [mapErrors] } }),
  );
  return {
    app,
    client,
    close: async () => {
      await app.stop();
      await backends.close();
    },
  };
}

describe("createApp()", () => {
  it("serves the handler on memory backends: host info, and StartInstance refused without xrdp", async () => {
    const { client, close } = inMemory();
    try {
      const info = await client.getHostInfo({});
      expect(info.hostInfo?.nodeId).toBe("node-a");
      expect(info.hostInfo?.xrdpBin).toBe("");
      const err = await client
        .startInstance({
          requestId: "6f1c2d3e-4a5b-4c6d-8e7f-901234567890",
          port: 33890,
          owner: "alice",
        })
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(err?.code).toBe(Code.FailedPrecondition);
      expect(err?.rawMessage).toMatch(/XRDP_BIN/);
    } finally {
      await close();
    }
  });

  it("refuses a page token it did not issue in ListInstances and ListConnections, naming page_token", async () => {
    const { client, close } = inMemory();
    try {
      for (const call of [
        client.listInstances({ pageToken: "bm9wZQ" }),
        client.listInstances({ pageToken: foreignPageToken }),
        client.listConnections({ pageToken: "bm9wZQ" }),
        client.listConnections({ pageToken: foreignPageToken }),
      ]) {
        expect(await refusalOf(call)).toMatchObject({
          code: Code.InvalidArgument,
          fields: ["page_token"],
        });
      }
    } finally {
      await close();
    }
  });

  it("reports no key pool without xrdp, and stops before it was started", async () => {
    const { app, close } = inMemory();
    expect(app.keyPoolSize).toBe(0);
    await close();
  });
});
