/** Sessions as tables, detail views and connect info. */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type Session,
  SessionEventType,
  SessionEventTypeSchema,
  type SessionState,
  SessionStateReasonSchema,
  SessionStateSchema,
  SessionTimerSchema,
  type WatchSessionsResponse,
} from "@lucid-rdp/gen";
import { formatDuration } from "./duration.js";
import { enumName } from "./enum-name.js";
import { pairsText } from "./pairs.js";
import { renderFields, renderTable } from "./table.js";
import { localTime, when } from "./time.js";
import { tone } from "./tone.js";

const stateName = (s: SessionState) => enumName(SessionStateSchema, s);

/** The endpoint clients connect to, `host:port`, or "". */
export function endpointOf(s: Session): string {
  const e = s.connectInfo?.endpoint;
  return e === undefined ? "" : `${e.host}:${e.port}`;
}

/** One line per session. */
export function sessionTable(sessions: readonly Session[], now: Date): string {
  return renderTable(
    ["ID", "USER", "STATE", "NODE", "ENDPOINT", "CONN", "CREATED", "MESSAGE"],
    sessions.map((s) => [
      s.id,
      s.user,
      tone(stateName(s.state)),
      s.nodeId,
      endpointOf(s),
      String(s.connectionCount),
      when(s.createTime, now),
      s.stateMessage,
    ]),
  );
}

/**
 * Every field of one session that has a value; `rdpUrl` turns the .rdp file's path into the URL
 * to download it from (session-controller's).
 */
export function sessionDetails(
  s: Session,
  now: Date,
  rdpUrl: (path: string) => string = (p) => p,
): string {
  const reason = enumName(SessionStateReasonSchema, s.stateReason);
  const deadlines = s.deadlines
    .map((d) => `${enumName(SessionTimerSchema, d.timer)} ${when(d.deadlineTime, now)}`)
    .join(", ");
  return renderFields([
    ["id", s.id],
    ["user", s.user],
    ["state", `${tone(stateName(s.state))}${reason ? ` (${reason})` : ""}`],
    ["message", s.stateMessage],
    ["node", s.nodeId],
    ["server", s.serverId],
    ["endpoint", endpointOf(s)],
    ["username", s.connectInfo?.username ?? ""],
    ["routing token", s.connectInfo?.routingToken ?? ""],
    ["rdp file", rdpUrl(s.connectInfo?.rdpFilePath ?? "")],
    ["connections", String(s.connectionCount)],
    [
      "display",
      s.display ? `${s.display.width}x${s.display.height}, ${s.display.colorDepth} bpp` : "",
    ],
    ["idle timeout", formatDuration(s.policy?.idleTimeout)],
    ["max duration", formatDuration(s.policy?.maxDuration)],
    ["deadlines", deadlines],
    ["labels", pairsText(s.labels, ", ")],
    ["created", when(s.createTime, now)],
    ["ready", when(s.readyTime, now)],
    ["last connect", when(s.lastConnectTime, now)],
    ["last disconnect", when(s.lastDisconnectTime, now)],
    ["ended", when(s.endTime, now)],
  ]);
}

/** What an RDP client needs, for `sessions create`; `rdpUrl` as in {@link sessionDetails}. */
export function connectInfoText(s: Session, rdpUrl: (path: string) => string = (p) => p): string {
  const ci = s.connectInfo;
  if (ci === undefined) return "no connect info yet";
  return renderFields([
    ["connect to", endpointOf(s)],
    ["username", ci.username],
    ["routing token", ci.routingToken],
    ["rdp file", rdpUrl(ci.rdpFilePath)],
  ]);
}

/** One line per WatchSessions event. */
export function sessionEventLine(e: WatchSessionsResponse): string {
  const s = e.session;
  const time = e.eventTime ? localTime(timestampDate(e.eventTime)) : "";
  const type = enumName(SessionEventTypeSchema, e.type);
  const state = s ? stateName(s.state) : "";
  const detail =
    e.type === SessionEventType.STATE_CHANGED
      ? `${stateName(e.previousState)} -> ${tone(state)}`
      : e.type === SessionEventType.TIMER_WARNING
        ? `${enumName(SessionTimerSchema, e.timer)} ends it at ${e.deadlineTime ? localTime(timestampDate(e.deadlineTime)) : "?"}`
        : tone(state);
  const message = s?.stateMessage ? `  ${s.stateMessage}` : "";
  return `${time}  ${type.padEnd(13)}  ${s?.id ?? ""}  ${s?.user ?? ""}  ${detail}${message}`;
}
