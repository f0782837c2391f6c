/** The collections of the mesh and their uniqueness rules, shared by both adapters. */
import type { CollectionSpec } from "../documents/collection.js";
import {
  type AlertRecord,
  type AlertRuleRecord,
  type AuditEventRecord,
  type IdempotencyRecord,
  type InstanceRecord,
  liveInstanceStates,
  liveServerStates,
  liveSessionStates,
  type NodeRecord,
  type ServerRecord,
  type SessionRecord,
} from "./records.js";

export const serverSpec: CollectionSpec<ServerRecord> = {
  name: "servers",
  // One port per node among servers that hold one.
  unique: [
    {
      name: "node_port",
      key: (s) => (liveServerStates.includes(s.state) ? `${s.nodeId}:${s.port}` : undefined),
    },
  ],
  indexes: ["state", "nodeId", "owner", "sessionId", "requestId", "outboxSince"],
};

export const nodeSpec: CollectionSpec<NodeRecord> = {
  name: "nodes",
  unique: [{ name: "address", key: (n) => n.address }],
  indexes: ["draining"],
};

export const instanceSpec: CollectionSpec<InstanceRecord> = {
  name: "instances",
  // One live instance per port on a host, and per server.
  unique: [
    {
      name: "port",
      key: (i) => (liveInstanceStates.includes(i.state) ? String(i.port) : undefined),
    },
    { name: "server", key: (i) => (liveInstanceStates.includes(i.state) ? i.serverId : undefined) },
  ],
  indexes: ["state", "serverId", "outboxSince"],
};

export const sessionSpec: CollectionSpec<SessionRecord> = {
  name: "sessions",
  // One live session per (user, server).
  unique: [
    {
      name: "user_server",
      key: (s) =>
        liveSessionStates.includes(s.state) && s.serverId !== undefined
          ? `${s.user}|${s.serverId}`
          : undefined,
    },
  ],
  indexes: ["user", "state", "serverId", "nextDeadline", "requestId", "outboxSince"],
};

export const alertRuleSpec: CollectionSpec<AlertRuleRecord> = {
  name: "alert_rules",
  unique: [{ name: "name", key: (r) => r.name }],
  indexes: ["metric", "enabled"],
};

export const alertSpec: CollectionSpec<AlertRecord> = {
  name: "alerts",
  // One open (pending or firing) alert per rule and series.
  unique: [
    {
      name: "open_series",
      key: (a) => (a.state === "RESOLVED" ? undefined : `${a.ruleId}|${a.fingerprint}`),
    },
  ],
  indexes: ["ruleId", "state", "outboxSince"],
};

export const idempotencySpec: CollectionSpec<IdempotencyRecord> = {
  name: "idempotency",
  indexes: ["expireTime"],
};

export const auditEventSpec: CollectionSpec<AuditEventRecord> = {
  name: "audit_events",
  indexes: ["time", "resourceId", "actorSubject"],
};
