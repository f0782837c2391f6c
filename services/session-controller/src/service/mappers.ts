/** Proto <-> domain for session-controller; responses whitelist fields. */
import { create } from "@bufbuild/protobuf";
import { type Duration, durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ActorSchema,
  type AuditEvent,
  AuditEventSchema,
  ClientInfoSchema,
  ConnectInfoSchema,
  type CreateSessionRequest,
  DisplaySettingsSchema,
  EndpointSchema,
  ResourceRefSchema,
  ResourceType,
  type Session,
  SessionDeadlineSchema,
  SessionPolicySchema,
  SessionReusePolicy,
  SessionSchema,
  SessionState,
  SessionStateReason,
  SessionTimer,
} from "@lucid-rdp/gen";
import { durationMs } from "@lucid-rdp/runtime";
import { type AuditEventRecord, reviveDates } from "@lucid-rdp/storage";
import { policyFromRecord, type SessionPolicyValues } from "../domain/policy.js";
import { renderRdpFile } from "../domain/rdp-file.js";
import {
  computeDeadlines,
  deadlineKeys,
  sessionTimers,
  type SessionTimer as Timer,
} from "../domain/timers.js";
import type { CreateSessionInput } from "../sessions/session-creator.js";
import type { SessionRecord } from "../store/records.js";

const ts = (d: Date | undefined) => (d === undefined ? undefined : timestampFromDate(d));

export const sessionStateToProto: Record<SessionRecord["state"], SessionState> = {
  PENDING: SessionState.PENDING,
  PROVISIONING: SessionState.PROVISIONING,
  READY: SessionState.READY,
  ACTIVE: SessionState.ACTIVE,
  DISCONNECTED: SessionState.DISCONNECTED,
  TERMINATING: SessionState.TERMINATING,
  TERMINATED: SessionState.TERMINATED,
  FAILED: SessionState.FAILED,
};

export const sessionStateFromProto: Readonly<
  Partial<Record<SessionState, SessionRecord["state"]>>
> = Object.fromEntries(Object.entries(sessionStateToProto).map(([k, v]) => [v, k]));

const reasons: Record<NonNullable<SessionRecord["stateReason"]>, SessionStateReason> = {
  TERMINATE_REQUESTED: SessionStateReason.TERMINATE_REQUESTED,
  CONNECT_DEADLINE: SessionStateReason.CONNECT_DEADLINE,
  IDLE_TIMEOUT: SessionStateReason.IDLE_TIMEOUT,
  DISCONNECTED_LIMIT: SessionStateReason.DISCONNECTED_LIMIT,
  MAX_DURATION: SessionStateReason.MAX_DURATION,
  KEEPALIVE_EXPIRED: SessionStateReason.KEEPALIVE_EXPIRED,
  PROVISIONING_FAILED: SessionStateReason.PROVISIONING_FAILED,
  SERVER_FAILED: SessionStateReason.SERVER_FAILED,
  SERVER_DELETED: SessionStateReason.SERVER_DELETED,
};

export const timerToProto: Record<Timer, SessionTimer> = {
  connect: SessionTimer.CONNECT_DEADLINE,
  idle: SessionTimer.IDLE,
  disconnected: SessionTimer.DISCONNECTED_LIMIT,
  max_duration: SessionTimer.MAX_DURATION,
  keepalive: SessionTimer.KEEPALIVE_EXPIRY,
};

const reuseToProto = {
  EXISTING: SessionReusePolicy.EXISTING,
  DISCONNECTED: SessionReusePolicy.DISCONNECTED,
  NEVER: SessionReusePolicy.NEVER,
} as const;

export const reuseFromProto: Partial<Record<SessionReusePolicy, SessionPolicyValues["reuse"]>> = {
  [SessionReusePolicy.EXISTING]: "EXISTING",
  [SessionReusePolicy.DISCONNECTED]: "DISCONNECTED",
  [SessionReusePolicy.NEVER]: "NEVER",
};

export const msOf = (d: Duration | undefined) => durationMs(d);

/** The .rdp file of a session with an endpoint, or "" before it has one. */
export function rdpFileOf(s: SessionRecord): string {
  if (s.host === undefined || s.port === undefined) return "";
  return renderRdpFile({
    host: s.host.includes(":") ? `[${s.host}]` : s.host,
    port: s.port,
    width: s.display.width,
    height: s.display.height,
    colorDepth: s.display.colorDepth,
    multimon: s.display.monitors > 1,
    username: s.user,
    routingToken: s.routingToken,
  });
}

/** A session record as the contract's Session. */
export function sessionToProto(
  s: SessionRecord,
  defaults: SessionPolicyValues,
  warnBeforeMs: number,
): Session {
  const policy = policyFromRecord(s, defaults);
  const computed = computeDeadlines(
    {
      state: s.state,
      createTime: s.createTime,
      readyTime: s.readyTime,
      connectedTime: s.connectedTime,
      disconnectedTime: s.disconnectedTime,
      lastActivityTime: s.lastActivityTime,
      lastKeepAliveTime: s.lastKeepAliveTime,
      policy,
      warned: s.warned,
    },
    warnBeforeMs,
  );
  // Soonest first, as the contract says.
  const deadlines = [...sessionTimers]
    .filter((t) => computed[deadlineKeys[t]] !== undefined)
    .sort(
      (a, b) =>
        (computed[deadlineKeys[a]] as Date).getTime() -
        (computed[deadlineKeys[b]] as Date).getTime(),
    )
    .map((t) =>
      create(SessionDeadlineSchema, {
        timer: timerToProto[t],
        warningTime: ts(computed.warnings[deadlineKeys[t]]),
        deadlineTime: ts(computed[deadlineKeys[t]]),
      }),
    );
  const lastActivity = [s.lastActivityTime, s.lastKeepAliveTime]
    .filter((d): d is Date => d !== undefined)
    .sort((a, b) => b.getTime() - a.getTime())[0];
  return create(SessionSchema, {
    id: s.id,
    user: s.user,
    state: sessionStateToProto[s.state],
    stateReason: s.stateReason
      ? (reasons[s.stateReason] ?? SessionStateReason.UNSPECIFIED)
      : SessionStateReason.UNSPECIFIED,
    stateMessage: s.stateMessage ?? "",
    serverId: s.serverId ?? "",
    nodeId: s.nodeId ?? "",
    display: create(DisplaySettingsSchema, {
      width: s.display.width,
      height: s.display.height,
      colorDepth: s.display.colorDepth,
      multiMonitor: s.display.monitors > 1,
    }),
    client: s.client
      ? create(ClientInfoSchema, {
          name: s.client.name ?? "",
          version: s.client.version ?? "",
          address: s.client.address ?? "",
        })
      : undefined,
    policy: create(SessionPolicySchema, {
      connectDeadline: durationFromMs(policy.connectDeadlineMs),
      idleTimeout: durationFromMs(policy.idleTimeoutMs),
      disconnectedLimit: durationFromMs(policy.disconnectedLimitMs),
      maxDuration: durationFromMs(policy.maxDurationMs),
      keepaliveTimeout: durationFromMs(policy.keepaliveTimeoutMs),
      reuse: reuseToProto[policy.reuse],
    }),
    connectInfo:
      s.host !== undefined && s.port !== undefined
        ? create(ConnectInfoSchema, {
            endpoint: create(EndpointSchema, { host: s.host, port: s.port }),
            username: s.user,
            rdpFile: rdpFileOf(s),
            rdpFilePath: `/sessions/${s.id}.rdp`,
            routingToken: s.routingToken ?? "",
          })
        : undefined,
    labels: { ...s.labels },
    deadlines,
    connectionCount: s.connectionCount,
    createTime: ts(s.createTime),
    updateTime: ts(s.updateTime),
    readyTime: ts(s.readyTime),
    lastConnectTime: ts(s.connectedTime),
    lastDisconnectTime: ts(s.disconnectedTime),
    lastActivityTime: ts(lastActivity),
    lastKeepaliveTime: ts(s.lastKeepAliveTime),
    endTime: ts(s.endTime),
  });
}

/** Revives a session record that went through JSON (the bus). */
export function reviveSession(json: unknown): SessionRecord {
  return reviveDates<SessionRecord>(json, [
    "createTime",
    "updateTime",
    "readyTime",
    "connectedTime",
    "disconnectedTime",
    "lastActivityTime",
    "lastKeepAliveTime",
    "lastConnectionEventTime",
    "endTime",
    "nextDeadline",
    "deadlines.*",
    "warned.*",
  ]);
}

/** CreateSession's request as the domain input (display defaults filled in, policy overrides only). */
export function createSessionInputOf(req: CreateSessionRequest): CreateSessionInput {
  const p = req.policy;
  const policy: Partial<SessionPolicyValues> = Object.fromEntries(
    Object.entries({
      connectDeadlineMs: msOf(p?.connectDeadline),
      idleTimeoutMs: msOf(p?.idleTimeout),
      disconnectedLimitMs: msOf(p?.disconnectedLimit),
      maxDurationMs: msOf(p?.maxDuration),
      keepaliveTimeoutMs: msOf(p?.keepaliveTimeout),
      reuse: p ? reuseFromProto[p.reuse] : undefined,
    }).filter(([, v]) => v !== undefined),
  );
  const display = {
    width: req.display?.width || 1920,
    height: req.display?.height || 1080,
    colorDepth: req.display?.colorDepth || 32,
    monitors: req.display?.multiMonitor ? 2 : 1,
  };
  return {
    requestId: req.requestId,
    user: req.user,
    display,
    client: req.client
      ? {
          name: req.client.name || undefined,
          version: req.client.version || undefined,
          address: req.client.address || undefined,
        }
      : undefined,
    policy,
    labels: req.labels,
  };
}

const resourceTypes: Record<AuditEventRecord["resourceType"], ResourceType> = {
  session: ResourceType.SESSION,
  server: ResourceType.SERVER,
  node: ResourceType.NODE,
  instance: ResourceType.INSTANCE,
  alert_rule: ResourceType.ALERT_RULE,
  alert: ResourceType.ALERT,
};

/** A ListAuditEvents resource type filter as the stored name; undefined for none (or unknown). */
export function resourceTypeFromProto(
  type: ResourceType,
): AuditEventRecord["resourceType"] | undefined {
  return Object.entries(resourceTypes).find(([, v]) => v === type)?.[0] as
    | AuditEventRecord["resourceType"]
    | undefined;
}

/** A stored audit event as the contract's AuditEvent (whitelisted fields). */
export function auditEventToProto(e: AuditEventRecord): AuditEvent {
  return create(AuditEventSchema, {
    id: e.id,
    eventTime: timestampFromDate(e.time),
    actor: create(ActorSchema, { subject: e.actorSubject, roles: [] }),
    action: e.action,
    resource: create(ResourceRefSchema, {
      type: resourceTypes[e.resourceType],
      id: e.resourceId,
    }),
    requestId: e.requestId ?? "",
    source: "session-controller",
    details: { ...e.details },
  });
}
