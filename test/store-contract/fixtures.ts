/** One fixture per collection of the mesh, for the shared contract suite. */
import { randomInt, randomUUID } from "node:crypto";
import {
  type AlertRecord,
  type AlertRuleRecord,
  resourceMonitorSpecs,
} from "@lucid-rdp/resource-monitor/store";
import {
  type NodeRecord,
  type ServerRecord,
  serverManagerSpecs,
} from "@lucid-rdp/server-manager/store";
import { type SessionRecord, sessionControllerSpecs } from "@lucid-rdp/session-controller/store";
import type { AuditEventRecord, IdempotencyRecord } from "@lucid-rdp/storage";
import type { CollectionFixture } from "@lucid-rdp/storage/contract";
import { type InstanceRecord, xrdpIntegrationSpecs } from "@lucid-rdp/xrdp-integration/store";

/** A port no other test run of this process picks (each fixture call draws a fresh one). */
const port = () => randomInt(10_000, 60_000);
const even = (i: number) => i % 2 === 0;

const server = (id: string, i: number, over: Partial<ServerRecord> = {}) => ({
  id,
  owner: `user${i}`,
  nodeId: `node-${randomUUID().slice(0, 8)}`,
  host: "10.0.0.5",
  port: port(),
  state: (even(i) ? "READY" : "PROVISIONING") as ServerRecord["state"],
  labels: { team: even(i) ? "blue" : "red" },
  ...over,
});

const session = (id: string, i: number, over: Partial<SessionRecord> = {}) => ({
  id,
  requestId: randomUUID(),
  user: `u-${randomUUID().slice(0, 8)}`,
  state: (even(i) ? "ACTIVE" : "READY") as SessionRecord["state"],
  serverId: randomUUID(),
  display: { width: 1920, height: 1080, colorDepth: 32, monitors: 1 },
  policy: { idleMs: 900_000 },
  labels: {},
  deadlines: { idle: new Date(Date.now() + 60_000) },
  nextDeadline: new Date(Date.now() + 60_000),
  connectionCount: i,
  ...over,
});

const instance = (id: string, i: number, over: Partial<InstanceRecord> = {}) => ({
  id,
  serverId: randomUUID(),
  port: port(),
  state: (even(i) ? "READY" : "STARTING") as InstanceRecord["state"],
  restartCount: i,
  settings: { securityLayer: "tls", maxBpp: 32, fastpath: true },
  ...over,
});

/** Every collection of the mesh, by name. */
export const meshSpecs = {
  ...serverManagerSpecs,
  ...xrdpIntegrationSpecs,
  ...sessionControllerSpecs,
  ...resourceMonitorSpecs,
};

export const fixtures: { [K in keyof typeof meshSpecs]: CollectionFixture<never> } = {
  servers: {
    make: (id, i) => server(id, i),
    change: { state: "DRAINING", lastActivityTime: new Date("2026-01-02T03:04:05Z") },
    filter: { where: { state: "READY" }, selects: even },
    clash: {
      rule: "node_port",
      pair: () => {
        const nodeId = `node-${randomUUID().slice(0, 8)}`;
        const p = port();
        return {
          first: (id) => server(id, 0, { nodeId, port: p }),
          second: (id) => server(id, 1, { nodeId, port: p }),
        };
      },
      release: { state: "STOPPED" },
    },
  } satisfies CollectionFixture<ServerRecord> as never,

  nodes: {
    make: (id, i) => ({
      id,
      address: `10.1.${randomInt(0, 255)}.${randomInt(0, 255)}:${port()}`,
      maxServers: 10 + i,
      draining: !even(i),
      source: "registered",
      lastHeartbeatTime: new Date(),
      heartbeatTtlMs: 15_000,
      portRangeStart: 20_000,
      portRangeEnd: 29_999,
      labels: { zone: even(i) ? "a" : "b" },
    }),
    change: { draining: true, maxServers: 3 },
    filter: { where: { labels: { contains: { zone: "a" } } }, selects: even },
    clash: {
      rule: "address",
      pair: () => {
        const address = `10.2.${randomInt(0, 255)}.${randomInt(0, 255)}:3389`;
        const base = {
          maxServers: 1,
          draining: false,
          source: "static" as const,
          heartbeatTtlMs: 15_000,
          portRangeStart: 20_000,
          portRangeEnd: 20_010,
          labels: {},
        };
        return {
          first: (id) => ({ id, address, ...base }),
          second: (id) => ({ id, address, ...base }),
        };
      },
      release: { address: `10.3.${randomInt(0, 255)}.${randomInt(0, 255)}:3389` },
    },
  } satisfies CollectionFixture<NodeRecord> as never,

  instances: {
    make: (id, i) => instance(id, i),
    change: { state: "RESTARTING", pid: 4242, pidStartTicks: 123456, restartCount: 3 },
    filter: { where: { state: { in: ["READY"] } }, selects: even },
    clash: {
      rule: "port",
      pair: () => {
        const p = port();
        return {
          first: (id) => instance(id, 0, { port: p }),
          second: (id) => instance(id, 1, { port: p }),
        };
      },
      release: { state: "FAILED", failureReason: "crash loop" },
    },
  } satisfies CollectionFixture<InstanceRecord> as never,

  sessions: {
    make: (id, i) => session(id, i),
    change: { state: "DISCONNECTED", disconnectedTime: new Date("2026-01-02T03:04:05Z") },
    filter: { where: { state: "ACTIVE" }, selects: even },
    clash: {
      rule: "user_server",
      pair: () => {
        const user = `u-${randomUUID().slice(0, 8)}`;
        const serverId = randomUUID();
        return {
          first: (id) => session(id, 0, { user, serverId }),
          second: (id) => session(id, 1, { user, serverId }),
        };
      },
      release: { state: "TERMINATED", endTime: new Date("2026-01-02T03:04:05Z") },
    },
  } satisfies CollectionFixture<SessionRecord> as never,

  alertRules: {
    make: (id, i) => ({
      id,
      name: `rule-${randomUUID()}`,
      metric: even(i) ? "host_cpu_ratio" : "host_memory_used_bytes",
      selector: {},
      comparison: "GT",
      threshold: 0.9,
      forMs: 60_000,
      severity: "WARNING",
      labels: {},
      enabled: true,
    }),
    change: { threshold: 0.95, enabled: false },
    filter: { where: { metric: "host_cpu_ratio" }, selects: even },
    clash: {
      rule: "name",
      pair: () => {
        const name = `rule-${randomUUID()}`;
        const base = {
          metric: "host_cpu_ratio",
          selector: {},
          comparison: "GT" as const,
          threshold: 1,
          forMs: 0,
          severity: "INFO" as const,
          labels: {},
          enabled: true,
        };
        return { first: (id) => ({ id, name, ...base }), second: (id) => ({ id, name, ...base }) };
      },
      release: { name: `renamed-${randomUUID()}` },
    },
  } satisfies CollectionFixture<AlertRuleRecord> as never,

  alerts: {
    make: (id, i) => ({
      id,
      ruleId: randomUUID(),
      fingerprint: randomUUID(),
      state: even(i) ? "FIRING" : "PENDING",
      labels: { server: "s1" },
      value: 0.97,
      activeSince: new Date("2026-01-01T00:00:00Z"),
    }),
    change: { value: 0.99, silencedUntil: new Date("2026-02-01T00:00:00Z") },
    filter: { where: { state: "FIRING" }, selects: even },
    clash: {
      rule: "open_series",
      pair: () => {
        const ruleId = randomUUID();
        const fingerprint = randomUUID();
        const base = { labels: {}, value: 1, activeSince: new Date() };
        return {
          first: (id) => ({ id, ruleId, fingerprint, state: "FIRING" as const, ...base }),
          second: (id) => ({ id, ruleId, fingerprint, state: "PENDING" as const, ...base }),
        };
      },
      release: { state: "RESOLVED", resolvedTime: new Date("2026-01-03T00:00:00Z") },
    },
  } satisfies CollectionFixture<AlertRecord> as never,

  idempotency: {
    make: (id, i) => ({
      id,
      scope: even(i) ? "CreateSession" : "CreateServer",
      requestId: randomUUID(),
      paramsHash: "sha256:abc",
      state: "PENDING",
      expireTime: new Date(Date.now() + (even(i) ? -3_600_000 : 3_600_000)),
    }),
    change: { state: "DONE", resultId: "00000000-0000-4000-8000-000000000001" },
    // What the expiry sweep selects: records past their expireTime.
    filter: { where: { expireTime: { lt: new Date() } }, selects: even },
  } satisfies CollectionFixture<IdempotencyRecord> as never,

  auditEvents: {
    make: (id, i) => ({
      id,
      time: new Date(Date.now() - (even(i) ? 40 : 1) * 24 * 3600_000),
      actorSubject: "alice",
      actorRoles: ["operator"],
      action: "session.terminate",
      resourceType: even(i) ? "session" : "server",
      resourceId: randomUUID(),
      details: { reason: "user request" },
    }),
    change: { details: { reason: "amended" } },
    filter: { where: { resourceType: "session" }, selects: even },
  } satisfies CollectionFixture<AuditEventRecord> as never,
};
