/** Proto <-> domain for server-manager; responses whitelist fields. */
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  EndpointSchema,
  type Node,
  NodeHealth,
  NodeSchema,
  NodeSource,
  PortRangeSchema,
  type RegisterNodeRequest,
  type Server,
  ServerSchema,
  ServerState,
  ServerStateReason,
  type XrdpSettings as XrdpSettingsMessage,
  XrdpSettingsSchema,
} from "@lucid-rdp/gen";
import { durationMs } from "@lucid-rdp/runtime";
import { reviveDates } from "@lucid-rdp/storage";
import { joinAddress, splitAddress } from "../domain/address.js";
import type { NodeRegistration } from "../domain/node-registration.js";
import type { XrdpSettings } from "../domain/xrdp-settings.js";
import type { NodeHealthView } from "../nodes/node-health.js";
import type { ServerRecord } from "../store/records.js";

const ts = (d: Date | undefined) => (d === undefined ? undefined : timestampFromDate(d));

export const serverStateToProto: Record<ServerRecord["state"], ServerState> = {
  PROVISIONING: ServerState.PROVISIONING,
  READY: ServerState.READY,
  DRAINING: ServerState.DRAINING,
  STOPPING: ServerState.STOPPING,
  STOPPED: ServerState.STOPPED,
  FAILED: ServerState.FAILED,
};

export const serverStateFromProto: Readonly<Partial<Record<ServerState, ServerRecord["state"]>>> =
  Object.fromEntries(Object.entries(serverStateToProto).map(([k, v]) => [v, k]));

const reasons: Record<NonNullable<ServerRecord["stateReason"]>, ServerStateReason> = {
  DELETE_REQUESTED: ServerStateReason.DELETE_REQUESTED,
  IDLE_TTL_EXPIRED: ServerStateReason.IDLE_TTL_EXPIRED,
  SESSION_ENDED: ServerStateReason.SESSION_ENDED,
  PROVISIONING_FAILED: ServerStateReason.PROVISIONING_FAILED,
  INSTANCE_FAILED: ServerStateReason.INSTANCE_FAILED,
  INSTANCE_VANISHED: ServerStateReason.INSTANCE_VANISHED,
  NODE_LOST: ServerStateReason.NODE_LOST,
};

/** A server record as the contract's Server (GetServer adds usage from the host's resource-monitor). */
export function serverToProto(s: ServerRecord): Server {
  return create(ServerSchema, {
    id: s.id,
    nodeId: s.nodeId,
    owner: s.owner,
    state: serverStateToProto[s.state],
    stateReason: s.stateReason ? reasons[s.stateReason] : ServerStateReason.UNSPECIFIED,
    stateMessage: s.stateMessage ?? s.failureReason ?? "",
    endpoint: create(EndpointSchema, { host: s.host, port: s.port }),
    instanceId: s.instanceId ?? "",
    sessionId: s.sessionId ?? "",
    labels: { ...s.labels },
    settings: s.settings ? fromJson(XrdpSettingsSchema, s.settings as JsonValue) : undefined,
    idleTtl: s.idleTtlMs ? durationFromMs(s.idleTtlMs) : undefined,
    createTime: ts(s.createTime),
    updateTime: ts(s.updateTime),
    readyTime: ts(s.readyTime),
    lastConnectionTime: ts(s.lastConnectionTime),
    routingToken: s.routingToken ?? "",
  });
}

/** A node with its health as the contract's Node. */
export function nodeToProto(v: NodeHealthView): Node {
  const n = v.node;
  const [host, port] = splitAddress(n.address);
  return create(NodeSchema, {
    id: n.id,
    address: create(EndpointSchema, { host, port }),
    rdpHost: n.rdpHost ?? host,
    maxServers: n.maxServers,
    serverCount: v.servers,
    portRange: create(PortRangeSchema, { start: n.portRangeStart, end: n.portRangeEnd }),
    health: v.healthy ? NodeHealth.HEALTHY : NodeHealth.UNHEALTHY,
    healthMessage: v.message,
    draining: n.draining,
    source: n.source === "static" ? NodeSource.STATIC : NodeSource.REGISTERED,
    xrdpVersion: n.xrdpVersion ?? "",
    labels: { ...n.labels },
    lastHeartbeatTime: ts(n.lastHeartbeatTime),
    leaseExpireTime: ts(v.leaseExpireTime),
    createTime: ts(n.createTime),
    updateTime: ts(n.updateTime),
    rdpDoorPort: n.rdpDoorPort ?? 0,
    warmPoolTarget: n.warmPoolTarget ?? 0,
    warmPoolReady: n.warmPoolReady ?? 0,
  });
}

/**
 * The contract's settings as plain data: their protobuf JSON form, exactly what server records have
 * always stored (and what the node client turns back into the message).
 */
export function settingsFromProto(m: XrdpSettingsMessage | undefined): XrdpSettings | undefined {
  return m === undefined ? undefined : (toJson(XrdpSettingsSchema, m) as XrdpSettings);
}

/** A RegisterNode request as the registration it asks for; empty strings read as absent. */
export function registrationFromProto(req: RegisterNodeRequest): NodeRegistration {
  return {
    nodeId: req.nodeId,
    address: joinAddress(req.address?.host ?? "", req.address?.port ?? 0),
    rdpHost: req.rdpHost || undefined,
    maxServers: req.maxServers,
    portRange: { start: req.portRange?.start ?? 0, end: req.portRange?.end ?? 0 },
    labels: { ...req.labels },
    leaseTtlMs: durationMs(req.leaseTtl),
    xrdpVersion: req.xrdpVersion || undefined,
    rdpDoorPort: req.rdpDoorPort,
    warmPoolTarget: req.warmPoolTarget,
    warmPoolReady: req.warmPoolReady,
    serving: req.serving,
    statusMessage: req.statusMessage || undefined,
  };
}

/** Revives a server record that went through JSON (the bus). */
export function reviveServer(json: unknown): ServerRecord {
  return reviveDates<ServerRecord>(json, [
    "createTime",
    "updateTime",
    "readyTime",
    "stopTime",
    "lastActivityTime",
    "lastConnectionTime",
    "deleteDeadline",
  ]);
}
