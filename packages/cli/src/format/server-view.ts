/** Servers and nodes as tables and detail views. */
import {
  type Node,
  NodeHealthSchema,
  type Server,
  ServerStateReasonSchema,
  ServerStateSchema,
} from "@lucid-rdp/gen";
import { bytes } from "./bytes.js";
import { formatDuration } from "./duration.js";
import { enumName } from "./enum-name.js";
import { pairsText } from "./pairs.js";
import { renderFields, renderTable } from "./table.js";
import { when } from "./time.js";
import { tone } from "./tone.js";

const endpoint = (s: Server) => (s.endpoint ? `${s.endpoint.host}:${s.endpoint.port}` : "");

/** One line per server. */
export function serverTable(servers: readonly Server[], now: Date): string {
  return renderTable(
    ["ID", "OWNER", "STATE", "NODE", "ENDPOINT", "SESSION", "CREATED", "MESSAGE"],
    servers.map((s) => [
      s.id,
      s.owner,
      tone(enumName(ServerStateSchema, s.state)),
      s.nodeId,
      endpoint(s),
      s.sessionId,
      when(s.createTime, now),
      s.stateMessage,
    ]),
  );
}

/** Every field of one server that has a value. */
export function serverDetails(s: Server, now: Date): string {
  const reason = enumName(ServerStateReasonSchema, s.stateReason);
  return renderFields([
    ["id", s.id],
    ["owner", s.owner],
    ["state", `${tone(enumName(ServerStateSchema, s.state))}${reason ? ` (${reason})` : ""}`],
    ["message", s.stateMessage],
    ["node", s.nodeId],
    ["endpoint", endpoint(s)],
    ["instance", s.instanceId],
    ["session", s.sessionId],
    ["routing token", s.routingToken],
    ["idle ttl", formatDuration(s.idleTtl)],
    ["cpu", s.usage ? `${s.usage.cpuPercent.toFixed(1)}%` : ""],
    ["memory", s.usage ? bytes(s.usage.memoryRssBytes) : ""],
    ["labels", pairsText(s.labels, ", ")],
    ["created", when(s.createTime, now)],
    ["ready", when(s.readyTime, now)],
    ["last connection", when(s.lastConnectionTime, now)],
  ]);
}

/** One line per node. */
export function nodeTable(nodes: readonly Node[], now: Date): string {
  return renderTable(
    ["ID", "HEALTH", "DRAINING", "SERVERS", "RDP", "POOL", "XRDP", "HEARTBEAT", "MESSAGE"],
    nodes.map((n) => [
      n.id,
      tone(enumName(NodeHealthSchema, n.health)),
      n.draining ? tone("DRAINING") : "no",
      `${n.serverCount}/${n.maxServers}`,
      // A door node takes every RDP client on one port; others give each server a port of a range.
      n.rdpDoorPort > 0
        ? `door :${n.rdpDoorPort}`
        : n.portRange
          ? `${n.portRange.start}-${n.portRange.end}`
          : "",
      n.warmPoolTarget > 0 ? `${n.warmPoolReady}/${n.warmPoolTarget}` : "-",
      n.xrdpVersion,
      when(n.lastHeartbeatTime, now),
      n.healthMessage,
    ]),
  );
}
