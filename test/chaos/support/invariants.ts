/**
 * The invariants of issue 15, judged on a {@link MeshState} and on what the clients were told.
 * Each violation is one line naming the records, processes or claims involved, so that a failing
 * scenario says exactly what is wrong. Pure functions: the scenario runner polls them until they
 * hold or its settle time has passed.
 *
 * - one request_id = at most one session (in any state: a retry must return the first), at most
 *   one live session and at most one live server;
 * - no READY/ACTIVE session whose server is not READY; no live server without a live session; no
 *   live instance, xrdp process or port claim without a live server; no READY instance without its
 *   xrdp process;
 * - nothing in a transient state (sessions PENDING/PROVISIONING/TERMINATING, servers
 *   PROVISIONING/STOPPING, instances STARTING/STOPPING);
 * - every session a client was answered exists, and one request_id was always answered the same
 *   session.
 */
import { liveSessionStates } from "@lucid-rdp/session-controller";
import type { BurstOutcome } from "./burst.js";
import type { InstanceDoc, MeshState, ServerDoc, SessionDoc } from "./mesh-state.js";

export const liveServerStates = ["PROVISIONING", "READY", "DRAINING", "STOPPING"];
export const liveInstanceStates = ["STARTING", "READY", "RESTARTING", "STOPPING"];

const transient = {
  session: ["PENDING", "PROVISIONING", "TERMINATING"],
  server: ["PROVISIONING", "STOPPING"],
  instance: ["STARTING", "STOPPING"],
};

const short = (id: string | undefined): string => (id ? id.slice(0, 8) : "-");
const reason = (r: string | undefined): string => (r ? `/${r}` : "");
const showSession = (s: SessionDoc): string =>
  `session ${short(s.id)} ${s.state}${reason(s.stateReason)} (request ${short(s.requestId)}, ${s.user})`;
const showServer = (s: ServerDoc): string =>
  `server ${short(s.id)} ${s.state}${reason(s.stateReason)} (${s.nodeId}:${s.port})`;
const showInstance = (i: InstanceDoc): string =>
  `instance ${short(i.id)} ${i.state}${reason(i.stateReason)} (${i.nodeId}:${i.port}, pid ${i.pid ?? "-"})`;

function groupBy<T>(items: readonly T[], key: (t: T) => string | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    out.set(k, [...(out.get(k) ?? []), item]);
  }
  return out;
}

/** Every violation of the record and process invariants in `state`; empty when all hold. */
export function stateViolations(state: MeshState): string[] {
  const out: string[] = [];
  for (const u of state.unreadable) out.push(`store unreadable: ${u}`);
  const sessionsById = new Map(state.sessions.map((s) => [s.id, s]));
  const serversById = new Map(state.servers.map((s) => [s.id, s]));
  const liveServer = (s: ServerDoc | undefined) =>
    s !== undefined && liveServerStates.includes(s.state);
  const liveSession = (s: SessionDoc | undefined) =>
    s !== undefined && (liveSessionStates as readonly string[]).includes(s.state);

  // One request_id: one session, one live session, one live server.
  for (const [requestId, sessions] of groupBy(state.sessions, (s) => s.requestId || undefined)) {
    if (sessions.length > 1) {
      out.push(
        `request ${short(requestId)}: ${sessions.length} sessions (${sessions.filter(liveSession).length} live): ${sessions.map(showSession).join("; ")}`,
      );
    }
    const ids = new Set(sessions.map((s) => s.id));
    const servers = state.servers.filter(
      (s) => liveServer(s) && s.sessionId !== undefined && ids.has(s.sessionId),
    );
    if (servers.length > 1) {
      out.push(
        `request ${short(requestId)}: ${servers.length} live servers: ${servers.map((s) => `${showServer(s)} of session ${short(s.sessionId)}`).join("; ")}`,
      );
    }
  }

  // Sessions follow their servers.
  for (const s of state.sessions) {
    if (s.state !== "READY" && s.state !== "ACTIVE") continue;
    const server = s.serverId === undefined ? undefined : serversById.get(s.serverId);
    if (s.serverId === undefined) out.push(`${showSession(s)} has no server`);
    else if (server === undefined)
      out.push(`${showSession(s)} names server ${short(s.serverId)}, which does not exist`);
    else if (server.state !== "READY") out.push(`${showSession(s)} but its ${showServer(server)}`);
  }

  // Live servers have live sessions.
  for (const s of state.servers.filter(liveServer)) {
    const session = s.sessionId === undefined ? undefined : sessionsById.get(s.sessionId);
    if (s.sessionId === undefined) out.push(`live ${showServer(s)} has no session`);
    else if (session === undefined)
      out.push(`live ${showServer(s)} names session ${short(s.sessionId)}, which does not exist`);
    else if (!liveSession(session))
      out.push(`live ${showServer(s)} but its ${showSession(session)}`);
  }

  // Live instances have live servers; READY instances have their process.
  const pids = new Set(state.processes.map((p) => `${p.nodeId}:${p.pid}`));
  for (const i of state.instances.filter((i) => liveInstanceStates.includes(i.state))) {
    const server = serversById.get(i.serverId);
    if (server === undefined)
      out.push(`live ${showInstance(i)} names server ${short(i.serverId)}, which does not exist`);
    else if (!liveServer(server)) out.push(`live ${showInstance(i)} but its ${showServer(server)}`);
    if (i.state === "READY" && (i.pid === undefined || !pids.has(`${i.nodeId}:${i.pid}`))) {
      out.push(`${showInstance(i)} has no running xrdp process`);
    }
  }

  // xrdp processes belong to live instances of live servers.
  for (const p of state.processes) {
    const owners = state.instances.filter((i) => i.nodeId === p.nodeId && i.pid === p.pid);
    const live = owners.find((i) => liveInstanceStates.includes(i.state));
    if (live === undefined) {
      out.push(
        `xrdp pid ${p.pid} on ${p.nodeId} belongs to no live instance${owners.length > 0 ? ` (${owners.map(showInstance).join("; ")})` : " (no instance record names it)"}`,
      );
    } else if (!liveServer(serversById.get(live.serverId))) {
      const server = serversById.get(live.serverId);
      out.push(
        `xrdp pid ${p.pid} on ${p.nodeId} runs for ${showInstance(live)} of ${server ? showServer(server) : `server ${short(live.serverId)}, which does not exist`}`,
      );
    }
  }

  // Port claims belong to live servers holding that port.
  for (const c of state.claims) {
    const server = serversById.get(c.serverId);
    const where = `port claim ${c.nodeId}:${c.port} (owner ${short(c.serverId)})`;
    if (server === undefined) out.push(`${where} names a server that does not exist`);
    else if (!liveServer(server)) out.push(`${where} but its ${showServer(server)}`);
    else if (server.nodeId !== c.nodeId || server.port !== c.port)
      out.push(`${where} but its ${showServer(server)} holds another port`);
  }

  // Nothing stuck half-way.
  const age = (t: Date | undefined) =>
    t === undefined
      ? ""
      : ` (last changed ${((state.takenAt - t.getTime()) / 1000).toFixed(1)} s before)`;
  for (const s of state.sessions)
    if (transient.session.includes(s.state))
      out.push(`${showSession(s)} still transient${age(s.updateTime)}`);
  for (const s of state.servers)
    if (transient.server.includes(s.state))
      out.push(`${showServer(s)} still transient${age(s.updateTime)}`);
  for (const i of state.instances)
    if (transient.instance.includes(i.state))
      out.push(`${showInstance(i)} still transient${age(i.updateTime)}`);
  return out;
}

/** Violations of what the clients were told: answered sessions exist, one per request_id. */
export function answerViolations(state: MeshState, outcomes: readonly BurstOutcome[]): string[] {
  const out: string[] = [];
  const sessionsById = new Map(state.sessions.map((s) => [s.id, s]));
  for (const [requestId, group] of groupBy(outcomes, (o) => o.request.requestId)) {
    const answered = new Set(
      group.flatMap((o) => o.calls.filter((c) => c.code === "OK").map((c) => c.sessionId ?? "")),
    );
    if (answered.size > 1) {
      out.push(
        `request ${short(requestId)} was answered ${answered.size} different sessions: ${[...answered].map(short).join(", ")}`,
      );
    }
    for (const id of answered) {
      const s = sessionsById.get(id);
      if (s === undefined) {
        out.push(
          `request ${short(requestId)} was answered session ${short(id)}, which does not exist`,
        );
      } else if (s.requestId !== requestId) {
        out.push(`request ${short(requestId)} was answered ${showSession(s)}, of another request`);
      }
    }
  }
  return out;
}

/** "sessions READY 12, FAILED 4; servers ...": the state at a glance, for the report. */
export function stateSummary(state: MeshState): string {
  const count = (states: readonly string[]) => {
    const m = new Map<string, number>();
    for (const s of states) m.set(s, (m.get(s) ?? 0) + 1);
    return [...m].map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  };
  const perSession = groupBy(state.servers, (s) => s.sessionId);
  const most = Math.max(0, ...[...perSession.values()].map((l) => l.length));
  return [
    `sessions: ${count(state.sessions.map((s) => s.state))}`,
    `most servers of one session: ${most}`,
    `servers: ${count(state.servers.map((s) => s.state))}`,
    `instances: ${count(state.instances.map((i) => i.state))}`,
    `xrdp processes: ${state.processes.length}`,
    `port claims: ${state.claims.length}`,
  ].join("; ");
}
