/**
 * The front door as the service runs it (createApp's door on startServer's one port, in-process on
 * memory backends): a refused connection gets the negotiation failure, and lands in the audit log
 * with its reason, its peer and the token's hash prefix, never the token; a source over its rate
 * is closed at once, counted, and not audited (a flood must not become a flood of writes). A
 * relayed connection is not the runtime's: it outlives IDLE_SOCKET_TIMEOUT_MS while idle.
 */

import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XrdpIntegrationService } from "@lucid-rdp/gen";
import {
  createLogger,
  EnvReader,
  type RunningServer,
  readRuntimeConfig,
  startServer,
} from "@lucid-rdp/runtime";
import { openBackends } from "@lucid-rdp/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { readXrdpIntegrationConfig, runtimeDefaults } from "../src/config.js";
import { capturedWithToken, tokenWithC } from "../src/domain/x224-test-fixtures.js";
import { buildConnectionRequest } from "../src/host/rdp-probe.js";
import { xrdpIntegrationSpecs } from "../src/store/specs.js";
import { until } from "./support/until.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "xi-door-audit-"));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** Sends `bytes` to the door and resolves with everything it answered before closing. */
function knock(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => s.write(bytes));
    const got: Buffer[] = [];
    s.on("data", (d: Buffer) => got.push(d));
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(got)));
  });
}

/**
 * The service built by createApp on memory backends (no xrdp), served by startServer with the
 * door's raw protocol, with `env` over a node's minimum; `app.start` not yet called.
 */
async function serve(env: Record<string, string>) {
  const all = {
    XRDP_BIN: "/nonexistent/xrdp",
    XRDP_SESMAN: "off",
    XRDP_STATE_DIR: stateDir,
    NODE_ID: "node-a",
    PORT: "0",
    EMBEDDED_STATE: "memory",
    ...env,
  };
  const config = readXrdpIntegrationConfig(new EnvReader(all));
  const logger = createLogger({ service: "test", level: "silent" });
  const backends = openBackends(config.storage, { specs: xrdpIntegrationSpecs, logger });
  const app = createApp(config, backends, {}, { logger });
  const start = async (): Promise<RunningServer> => {
    const server = await startServer({
      config: readRuntimeConfig(runtimeDefaults, all),
      logger,
      routes: app.routes,
      services: [XrdpIntegrationService],
      rawProtocols: app.rawProtocols,
    });
    app.start(server);
    return server;
  };
  const close = async (server: RunningServer | undefined) => {
    await server?.shutdown();
    await app.stop();
    await backends.close();
  };
  return { app, backends, start, close };
}

describe("the front door in the service", () => {
  it("audits each refusal without the token, and does not audit a rate flood", async () => {
    const { app, backends, start, close } = await serve({
      RDP_DOOR_RATE_PER_MINUTE: "1",
      RDP_DOOR_BURST: "2",
    });
    expect(app.rawProtocols.map((p) => p.firstByte)).toEqual([0x03]);
    const server = await start();
    try {
      const answer = await knock(server.port, Buffer.from(capturedWithToken, "hex"));
      // X.224 Connection Confirm with RDP_NEG_FAILURE (type 3).
      expect(answer[5]).toBe(0xd0);
      expect(answer[11]).toBe(0x03);
      const audited = await until(
        async () =>
          (await backends.stores.auditEvents.list({ pageSize: 100 })).items.filter(
            (e) => e.action === "rdp_door.refused",
          ),
        (items) => items.length === 1,
      );
      const entry = audited[0];
      expect(entry?.resourceType).toBe("node");
      expect(entry?.resourceId).toBe("node-a");
      expect(entry?.details.reason).toBe("unknown");
      expect(entry?.details.peer).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(entry?.details.token_sha256_prefix).toMatch(/^[0-9a-f]{12}$/);
      expect(JSON.stringify(entry)).not.toContain(tokenWithC);

      // The burst of 2 is spent by the first knock and this one; the third is over the rate.
      await knock(server.port, Buffer.from(capturedWithToken, "hex"));
      const flooded = await knock(server.port, Buffer.from(capturedWithToken, "hex"));
      expect(flooded.length).toBe(0);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/^lucid_rdp_door_refused_total\{reason="rate"\} 1$/m);
      expect(metrics).toMatch(/^lucid_rdp_door_refused_total\{reason="unknown"\} 2$/m);
      await new Promise((r) => setTimeout(r, 200));
      const all = (await backends.stores.auditEvents.list({ pageSize: 100 })).items;
      expect(all.filter((e) => e.action === "rdp_door.refused")).toHaveLength(2);
    } finally {
      await close(server);
    }
  });

  it("keeps an idle relayed connection past the service's idle socket timeout", async () => {
    const { app, backends, start, close } = await serve({ IDLE_SOCKET_TIMEOUT_MS: "300" });
    // A stand-in for an instance's xrdp: takes the stripped request, then echoes.
    const upstreamSockets: Socket[] = [];
    const upstream = createServer((s) => {
      upstreamSockets.push(s);
      s.once("data", () => s.on("data", (d: Buffer) => s.write(d)));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const upstreamPort = (upstream.address() as { port: number }).port;
    const record = await backends.stores.instances.insert({
      id: randomUUID(),
      serverId: randomUUID(),
      port: upstreamPort,
      state: "READY",
      restartCount: 0,
      settings: {},
      owner: "lucidtest",
    });
    await app.routingTable?.refresh();
    const token = app.routingTable?.tokenOf(record.id) ?? "";
    const server = await start();
    const client = connect({ host: "127.0.0.1", port: server.port });
    try {
      await new Promise<void>((r) => client.once("connect", () => r()));
      client.write(buildConnectionRequest(undefined, token));
      await until(
        () => app.door?.connections().length ?? 0,
        (n) => n === 1,
      );
      // Idle for five times the idle socket timeout: still relayed both ways.
      await new Promise((r) => setTimeout(r, 1_500));
      const echoed = new Promise<Buffer>((r) => client.once("data", r));
      client.write("still here");
      expect((await echoed).toString()).toBe("still here");
      expect(client.destroyed).toBe(false);
      expect(app.door?.connections()[0]?.instanceId).toBe(record.id);
    } finally {
      client.destroy();
      for (const s of upstreamSockets) s.destroy();
      upstream.close();
      await close(server);
    }
  });
});
