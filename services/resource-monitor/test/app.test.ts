/**
 * resource-monitor through createApp on memory backends and fake clients, called through the
 * generated client on an in-memory transport (no process, no port).
 */
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  AlertMetric,
  Comparison,
  HostHealthStatus,
  ResourceMonitorService,
  Severity,
  type WatchMetricsResponse,
} from "@lucid-rdp/gen";
import { EnvReader, ErrorMapper } from "@lucid-rdp/runtime";
import { createMemoryCoordination, createMemoryStores } from "@lucid-rdp/storage";
import { foreignPageToken, refusalOf, waitFor } from "@lucid-rdp/testing";
import { describe, expect, it } from "vitest";
import { errorRules } from "../src/error-rules.js";
import { createApp, type ResourceMonitorClients, readResourceMonitorConfig } from "../src/index.js";
import { resourceMonitorSpecs } from "../src/store/specs.js";

function setup(clients: ResourceMonitorClients) {
  const config = readResourceMonitorConfig(new EnvReader({ NODE_ID: "node-a" }));
  const app = createApp(
    config,
    { stores: createMemoryStores(resourceMonitorSpecs), coordination: createMemoryCoordination() },
    clients,
    { xrdpInstalled: () => true },
  );
  const errors = new ErrorMapper(errorRules);
  const transport = createRouterTransport(app.routes, {
    router: {
      interceptors: [
        (next) => async (req) => {
          try {
            return await next(req);
          } catch (e) {
            throw errors.map(e).error;
          }
        },
      ],
    },
  });
  return { app, client: createClient(ResourceMonitorService, transport) };
}

/** This test process as the xrdp of one READY instance of server s1. */
const oneInstance: ResourceMonitorClients = {
  xrdp: {
    listInstances: async () => [
      { id: "i1", serverId: "s1", state: "READY", pid: process.pid, sesmanPid: 0 },
      { id: "i2", serverId: "s2", state: "STOPPED", pid: process.pid, sesmanPid: 0 },
    ],
  },
  sessions: {
    serverIdOfSession: async (id) => (id === "sess-1" ? "s1" : ""),
    sessionIdOfServer: async (id) => (id === "s1" ? "sess-1" : ""),
  },
};

describe("createApp()", () => {
  it("samples the host and the live instances' servers, and serves them", async () => {
    const { app, client } = setup(oneInstance);
    await app.monitor.sampleOnce();
    const host = await client.getHostMetrics({});
    expect(host.latest?.cpu).toBeDefined();
    const bySession = await client.getServerUsage({
      target: { case: "sessionId", value: "sess-1" },
    });
    expect(bySession.serverUsage?.serverId).toBe("s1");
    expect(bySession.serverUsage?.instanceId).toBe("i1");
    expect(bySession.serverUsage?.processes.map((p) => p.pid)).toContain(process.pid);
    await expect(
      client.getServerUsage({ target: { case: "serverId", value: "s2" } }),
    ).rejects.toMatchObject({ code: Code.NotFound });
    const health = await client.getHostHealth({});
    expect(health.hostHealth?.status).not.toBe(HostHealthStatus.UNSPECIFIED);
    await app.stop();
  });

  it("names the session owning the server in GetServerUsage by server id", async () => {
    const { app, client } = setup(oneInstance);
    await app.monitor.sampleOnce();
    const byServer = await client.getServerUsage({ target: { case: "serverId", value: "s1" } });
    expect(byServer.serverUsage?.serverId).toBe("s1");
    expect(byServer.serverUsage?.sessionId).toBe("sess-1");
    const bySession = await client.getServerUsage({
      target: { case: "sessionId", value: "sess-1" },
    });
    expect(bySession.serverUsage?.sessionId).toBe("sess-1");
    await app.stop();
  });

  it("answers GetServerUsage by server id with no session_id when session-controller fails", async () => {
    const { app, client } = setup({
      ...oneInstance,
      sessions: {
        serverIdOfSession: async () => "s1",
        sessionIdOfServer: async () => {
          throw new ConnectError("down", Code.Unavailable);
        },
      },
    });
    await app.monitor.sampleOnce();
    const byServer = await client.getServerUsage({ target: { case: "serverId", value: "s1" } });
    expect(byServer.serverUsage?.instanceId).toBe("i1");
    expect(byServer.serverUsage?.sessionId).toBe("");
    await app.stop();
  });

  it("answers GetServerUsage by server id within its deadline when session-controller hangs", async () => {
    const { app, client } = setup({
      ...oneInstance,
      sessions: {
        serverIdOfSession: async () => "s1",
        // Never answers; gives up only when the call's signal aborts.
        sessionIdOfServer: (_, signal) =>
          new Promise((_, reject) =>
            signal?.addEventListener("abort", () => reject(signal.reason)),
          ),
      },
    });
    await app.monitor.sampleOnce();
    const byServer = await client.getServerUsage(
      { target: { case: "serverId", value: "s1" } },
      { timeoutMs: 10_000 },
    );
    expect(byServer.serverUsage?.instanceId).toBe("i1");
    expect(byServer.serverUsage?.sessionId).toBe("");
    await app.stop();
  });

  it("streams the host sample only in WatchMetrics without server_ids, and the asked servers with them", async () => {
    const { app, client } = setup(oneInstance);
    await app.monitor.sampleOnce();
    const firstOf = async (serverIds: string[]): Promise<WatchMetricsResponse | undefined> => {
      const abort = new AbortController();
      const stream = client.watchMetrics({ serverIds }, { signal: abort.signal });
      const next = stream[Symbol.asyncIterator]().next();
      let done = false;
      void next.then(() => {
        done = true;
      });
      // The handler subscribes to samples once the call reaches it: sample until one arrives.
      await waitFor(
        "a WatchMetrics sample",
        async () => {
          await app.monitor.sampleOnce();
          return done;
        },
        { until: (d) => d },
      );
      const result = await next;
      abort.abort();
      return result.done ? undefined : result.value;
    };
    const hostOnly = await firstOf([]);
    expect(hostOnly?.host).toBeDefined();
    expect(hostOnly?.servers).toEqual([]);
    const withServer = await firstOf(["s1"]);
    expect(withServer?.servers.map((s) => s.serverId)).toEqual(["s1"]);
    await app.stop();
  });

  it("refuses a page token it did not issue in ListAlertRules and ListAlerts, naming page_token", async () => {
    const { client } = setup({});
    for (const call of [
      client.listAlertRules({ pageToken: "bm9wZQ" }),
      client.listAlertRules({ pageToken: foreignPageToken }),
      client.listAlerts({ pageToken: "bm9wZQ" }),
      client.listAlerts({ pageToken: foreignPageToken }),
    ]) {
      expect(await refusalOf(call)).toMatchObject({
        code: Code.InvalidArgument,
        fields: ["page_token"],
      });
    }
  });

  it("refuses a session id without session-controller", async () => {
    const { client } = setup({});
    const err = await client
      .getServerUsage({ target: { case: "sessionId", value: "sess-1" } })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.FailedPrecondition });
  });

  it("creates, reads and updates an alert rule with its enums intact", async () => {
    const { client } = setup({});
    const created = await client.createAlertRule({
      requestId: "1b4e28ba-2fa1-4d2b-883f-0016d3cca427",
      alertRule: {
        displayName: "load",
        metric: AlertMetric.HOST_LOAD5,
        comparison: Comparison.GREATER_THAN_OR_EQUAL,
        threshold: 4,
        severity: Severity.WARNING,
      },
    });
    const rule = created.alertRule;
    expect(rule).toMatchObject({
      displayName: "load",
      metric: AlertMetric.HOST_LOAD5,
      comparison: Comparison.GREATER_THAN_OR_EQUAL,
      severity: Severity.WARNING,
      etag: "v1",
    });
    const listed = await client.listAlertRules({ metric: AlertMetric.HOST_LOAD5 });
    expect(listed.alertRules.map((r) => r.id)).toEqual([rule?.id]);
    const updated = await client.updateAlertRule({
      alertRule: { id: rule?.id, etag: "v1", severity: Severity.CRITICAL },
      updateMask: { paths: ["severity"] },
    });
    expect(updated.alertRule).toMatchObject({ severity: Severity.CRITICAL, etag: "v2" });
    await expect(
      client.updateAlertRule({
        alertRule: { id: rule?.id, etag: "v1", threshold: 5 },
        updateMask: { paths: ["threshold"] },
      }),
    ).rejects.toMatchObject({ code: Code.Aborted });
  });
});
