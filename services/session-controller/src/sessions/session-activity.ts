/**
 * What clients and nodes report about a live session: keepalives, connections (which move it
 * between READY, ACTIVE and DISCONNECTED) and refused logins (audited only).
 */
import type { Clock } from "@lucid-rdp/runtime";
import { stableUuid } from "@lucid-rdp/runtime";
import { AlreadyExistsError, type AuditEventStore, type Changes } from "@lucid-rdp/storage";
import { type Actor, systemActor } from "../domain/actor.js";
import { SessionEndedError } from "../domain/session-errors.js";
import { usableSessionStates } from "../domain/session-values.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionRepository } from "./session-repository.js";

/** What the activity tracker needs. */
export interface SessionActivityOptions {
  readonly audit: AuditEventStore;
  readonly writer: SessionRepository;
  readonly clock: Clock;
}

/** Keepalives, connection reports and refused logins of live sessions. */
export class SessionActivity {
  constructor(private readonly opts: SessionActivityOptions) {}

  /** KeepAlive: restarts the keepalive timer. */
  async keepAlive(id: string): Promise<SessionRecord> {
    const s = await this.opts.writer.get(id);
    if (!usableSessionStates.includes(s.state)) throw new SessionEndedError(id, s.state);
    return this.opts.writer.apply(id, { lastKeepAliveTime: this.opts.clock() });
  }

  /**
   * A connection report (or a polled count), counting logged-in connections only: CONNECTED (a
   * client logged in to the desktop) moves READY/DISCONNECTED to ACTIVE; DISCONNECTED with no
   * logged-in connection left moves ACTIVE to DISCONNECTED. Reports older than the last one applied
   * change nothing. A refused login is not a connection: see `loginRefused`.
   */
  async connectionChanged(
    sessionId: string,
    type: "CONNECTED" | "DISCONNECTED",
    connectionCount: number,
    eventTime: Date,
  ): Promise<{ session: SessionRecord; applied: boolean }> {
    const { writer } = this.opts;
    const s = await this.opts.writer.get(sessionId);
    if (s.lastConnectionEventTime && eventTime.getTime() < s.lastConnectionEventTime.getTime()) {
      return { session: s, applied: false };
    }
    const now = this.opts.clock();
    const base: Changes<SessionRecord> = {
      connectionCount,
      lastConnectionEventTime: eventTime,
      lastActivityTime: now,
    };
    if (type === "CONNECTED" && (s.state === "READY" || s.state === "DISCONNECTED")) {
      const session = await writer.transition(sessionId, "ACTIVE", systemActor, {
        ...base,
        connectedTime: now,
        connectCount: (s.connectCount ?? 0) + 1,
        reconnects: (s.reconnects ?? 0) + (s.state === "DISCONNECTED" ? 1 : 0),
      });
      return { session, applied: true };
    }
    if (type === "DISCONNECTED" && connectionCount === 0 && s.state === "ACTIVE") {
      // `transition` closes the connected interval (disconnectedTime, totalConnectedMs).
      const session = await writer.transition(sessionId, "DISCONNECTED", systemActor, base);
      return { session, applied: true };
    }
    if (!usableSessionStates.includes(s.state)) return { session: s, applied: false };
    return { session: await writer.apply(sessionId, base), applied: true };
  }

  /**
   * A refused desktop login on the session's server (an account other than the session's user, a
   * wrong password, root): an audit event `session.login_refused` with the peer address and the
   * instance id, and nothing else. The record is not touched, so its state, connection counts and
   * activity (and with it the idle timer) stay as they were, and nothing is published, so no
   * watcher sees a change. The audit id follows from the report's `requestId`: a retry after a
   * write whose answer was lost finds it and does not write a second one. Unlike the audit of a
   * change of state, a failed write is thrown: it is all a refused login leaves behind, and the
   * reporter retries.
   */
  async loginRefused(
    session: SessionRecord,
    report: {
      readonly requestId: string;
      readonly peer?: { readonly host: string; readonly port: number };
      readonly instanceId?: string;
      readonly eventTime: Date;
    },
    actor: Actor,
  ): Promise<void> {
    const { peer } = report;
    try {
      await this.opts.audit.insert({
        id: stableUuid(`login-refused:${report.requestId}`),
        time: this.opts.clock(),
        actorSubject: actor.subject,
        actorRoles: [...actor.roles],
        action: "session.login_refused",
        resourceType: "session",
        resourceId: session.id,
        requestId: report.requestId,
        details: {
          user: session.user,
          state: session.state,
          ...(session.serverId ? { server: session.serverId } : {}),
          ...(peer
            ? { peer: `${peer.host.includes(":") ? `[${peer.host}]` : peer.host}:${peer.port}` }
            : {}),
          ...(report.instanceId ? { instance: report.instanceId } : {}),
          event_time: report.eventTime.toISOString(),
        },
      });
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
  }
}
