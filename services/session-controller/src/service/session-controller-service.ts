/** The SessionControllerService handlers: contract messages in, Sessions, messages out. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ConnectionEventType,
  CreateSessionResponseSchema,
  GetSessionMetricsResponseSchema,
  GetSessionResponseSchema,
  KeepAliveResponseSchema,
  ListAuditEventsResponseSchema,
  ListSessionsResponseSchema,
  ReportConnectionEventResponseSchema,
  type SessionControllerService,
  SessionEventType,
  SessionMetricsSchema,
  TerminateSessionResponseSchema,
  WatchSessionsResponseSchema,
} from "@lucid-rdp/gen";
import type { Clock } from "@lucid-rdp/runtime";
import { type Principal, principalKey, roleName, type UsageLookup } from "@lucid-rdp/runtime";
import { type BusEvent, BusWakeups, type EventBus, NotFoundError } from "@lucid-rdp/storage";
import type { Actor } from "../domain/actor.js";
import type { SessionPolicyValues } from "../domain/policy.js";
import type { SessionTimer } from "../domain/timers.js";
import type { SessionReader } from "../sessions/session-reader.js";
import type { Sessions } from "../sessions/sessions.js";
import type { AuditReader } from "../store/audit-reader.js";
import type { SessionRecord } from "../store/records.js";
import type { RequestLedger } from "../store/request-ledger.js";
import {
  auditEventToProto,
  createSessionInputOf,
  msOf,
  resourceTypeFromProto,
  reviveSession,
  sessionStateFromProto,
  sessionStateToProto,
  sessionToProto,
  timerToProto,
} from "./mappers.js";

type Impl = ServiceImpl<typeof SessionControllerService>;

export interface SessionControllerDeps {
  readonly sessions: Sessions;
  /** The reads of session records (the sessions' repository). */
  readonly records: SessionReader;
  /** ListAuditEvents' reads. */
  readonly auditLog: AuditReader;
  /** ReportConnectionEvent's request ids. */
  readonly requests: RequestLedger;
  readonly bus: EventBus;
  readonly defaults: SessionPolicyValues;
  readonly warnBeforeMs: number;
  readonly clock: Clock;
  readonly shutdownSignal: () => AbortSignal | undefined;
  /** CPU and memory of a server from its host's resource-monitor. */
  readonly usage?: UsageLookup;
  /**
   * Wakes CreateSession's wait on the `session` events of `bus`.
   * @default wake-ups of its own on `bus`, started at the first wait
   */
  readonly wakeups?: BusWakeups;
}

function actorOf(ctx: HandlerContext): Actor {
  const p: Principal | undefined = ctx.values.get(principalKey);
  if (p === undefined) return { subject: "anonymous", roles: [] };
  return { subject: p.subject, roles: [...p.roles].map(roleName) };
}

/** The connection reports that move a session (LOGIN_REFUSED is audited only). */
const connectionTypes: Partial<Record<ConnectionEventType, "CONNECTED" | "DISCONNECTED">> = {
  [ConnectionEventType.CONNECTED]: "CONNECTED",
  [ConnectionEventType.DISCONNECTED]: "DISCONNECTED",
};

export class SessionControllerHandler implements Impl {
  private readonly wakeups: BusWakeups;

  constructor(private readonly deps: SessionControllerDeps) {
    this.wakeups = deps.wakeups ?? new BusWakeups({ bus: deps.bus, family: "session" });
  }

  private toProto(s: Parameters<typeof sessionToProto>[0]) {
    return sessionToProto(s, this.deps.defaults, this.deps.warnBeforeMs);
  }

  async createSession(req: Parameters<Impl["createSession"]>[0], ctx: HandlerContext) {
    // The session record is the request id's record: a retry (after any crash) gets the same one.
    const made = await this.deps.sessions.create(createSessionInputOf(req), actorOf(ctx));
    const resultId = made.id;
    let reused = made.reused;
    const waitMs = msOf(req.waitTimeout) ?? 0;
    // This call's provisioning attempt: if server-manager does not answer, neither does this call
    // (UNAVAILABLE, retried by the client with the same request id), rather than running into
    // its deadline; the session stays PROVISIONING and the next attempt resumes it.
    let uncertain: string | undefined;
    // The session as this call's attempt stored it last (READY from CreateServer's answer): once
    // there, the wait answers from it instead of reading the record again.
    let settled: SessionRecord | undefined;
    const attempt = made.provisioning?.then((o) => {
      if (o.kind === "uncertain") uncertain = o.reason;
      else settled = o.session;
    });
    const waiting = (s: SessionRecord) => s.state === "PENDING" || s.state === "PROVISIONING";
    const s = await this.wakeups.waitUntil(
      resultId,
      async () => {
        const known = settled;
        if (known !== undefined && !waiting(known)) return known;
        return this.deps.records.get(resultId, { signal: ctx.signal });
      },
      waiting,
      {
        timeoutMs: waitMs,
        signal: ctx.signal,
        clock: this.deps.clock,
        interrupt: attempt,
        check: (s) => {
          if (uncertain !== undefined && waiting(s)) {
            throw new ConnectError(
              `session ${s.id} is waiting for a server: server-manager did not answer (${uncertain}); retry with the same request_id`,
              Code.Unavailable,
            );
          }
        },
      },
    );
    reused ||= s.requestId !== req.requestId;
    return create(CreateSessionResponseSchema, { session: this.toProto(s), reused });
  }

  async getSession(req: Parameters<Impl["getSession"]>[0], ctx: HandlerContext) {
    const s = await this.deps.records.get(req.sessionId, { signal: ctx.signal });
    return create(GetSessionResponseSchema, { session: this.toProto(s) });
  }

  async listSessions(req: Parameters<Impl["listSessions"]>[0], ctx: HandlerContext) {
    const lastEventId = await this.deps.bus.lastEventId("session", { signal: ctx.signal });
    const states = req.states.map((s) => sessionStateFromProto[s]).filter((s) => s !== undefined);
    const page = await this.deps.records.list(
      { states, user: req.user, serverId: req.serverId },
      { pageSize: req.pageSize, pageToken: req.pageToken, signal: ctx.signal },
    );
    return create(ListSessionsResponseSchema, {
      sessions: page.items.map((s) => this.toProto(s)),
      nextPageToken: page.nextPageToken,
      lastEventId,
    });
  }

  async terminateSession(req: Parameters<Impl["terminateSession"]>[0], ctx: HandlerContext) {
    const s = await this.deps.sessions.terminate(
      req.sessionId,
      "TERMINATE_REQUESTED",
      req.reason || "terminate requested",
      actorOf(ctx),
    );
    return create(TerminateSessionResponseSchema, { session: this.toProto(s) });
  }

  async keepAlive(req: Parameters<Impl["keepAlive"]>[0]) {
    const s = await this.deps.sessions.keepAlive(req.sessionId);
    const policyKeepalive = s.policy.keepaliveTimeoutMs ?? this.deps.defaults.keepaliveTimeoutMs;
    return create(KeepAliveResponseSchema, {
      session: this.toProto(s),
      keepaliveExpireTime: timestampFromDate(
        new Date((s.lastKeepAliveTime ?? this.deps.clock()).getTime() + policyKeepalive),
      ),
    });
  }

  async *watchSessions(req: Parameters<Impl["watchSessions"]>[0], ctx: HandlerContext) {
    const stop = this.deps.shutdownSignal();
    const signal = stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal;
    const events = this.deps.bus.subscribe("session", {
      after: req.afterEventId || undefined,
      signal,
    }) as AsyncIterable<
      BusEvent<{
        session: unknown;
        previousState?: string;
        timer?: SessionTimer;
        deadline?: string;
      }>
    >;
    for await (const e of events) {
      const s = reviveSession(e.data.session);
      if (req.sessionId && s.id !== req.sessionId) continue;
      if (req.user && s.user !== req.user) continue;
      const type =
        e.type === "session.created"
          ? SessionEventType.CREATED
          : e.type === "session.timer_warning"
            ? SessionEventType.TIMER_WARNING
            : e.type === "session.state_changed"
              ? SessionEventType.STATE_CHANGED
              : SessionEventType.UPDATED;
      yield create(WatchSessionsResponseSchema, {
        eventId: e.id,
        type,
        eventTime: timestampFromDate(e.time),
        session: this.toProto(s),
        previousState: e.data.previousState
          ? sessionStateToProto[e.data.previousState as keyof typeof sessionStateToProto]
          : undefined,
        timer: e.data.timer ? timerToProto[e.data.timer] : undefined,
        deadlineTime: e.data.deadline ? timestampFromDate(new Date(e.data.deadline)) : undefined,
      });
    }
  }

  async getSessionMetrics(req: Parameters<Impl["getSessionMetrics"]>[0], ctx: HandlerContext) {
    const s = await this.deps.records.get(req.sessionId, { signal: ctx.signal });
    const now = this.deps.clock().getTime();
    const current =
      s.state === "ACTIVE" && s.connectedTime ? Math.max(0, now - s.connectedTime.getTime()) : 0;
    return create(GetSessionMetricsResponseSchema, {
      metrics: create(SessionMetricsSchema, {
        sessionId: s.id,
        connectionCount: s.connectionCount,
        connectCount: s.connectCount ?? 0,
        reconnectCount: s.reconnects ?? 0,
        connectedDuration: durationFromMs((s.totalConnectedMs ?? 0) + current),
        lastActivityTime: s.lastActivityTime ? timestampFromDate(s.lastActivityTime) : undefined,
        // From the server's host's resource-monitor; absent (not invented) without one.
        usage: s.host && s.serverId ? await this.deps.usage?.(s.host, s.serverId) : undefined,
      }),
    });
  }

  async reportConnectionEvent(
    req: Parameters<Impl["reportConnectionEvent"]>[0],
    ctx: HandlerContext,
  ) {
    const s = await this.deps.sessions.findByServer(req.serverId);
    if (s === undefined) throw new NotFoundError("sessions", `on server ${req.serverId}`);
    let applied = false;
    let session = s;
    const { created } = await this.deps.requests.runOnce(
      {
        scope: "ReportConnectionEvent",
        requestId: req.requestId,
        params: { serverId: req.serverId, type: req.type, count: req.connectionCount },
        signal: ctx.signal,
      },
      async () => {
        const eventTime = req.eventTime ? timestampDate(req.eventTime) : this.deps.clock();
        if (req.type === ConnectionEventType.LOGIN_REFUSED) {
          // Audited only: no change of state, counts or activity, nothing published.
          await this.deps.sessions.loginRefused(
            s,
            {
              requestId: req.requestId,
              peer: req.peer,
              instanceId: req.instanceId || undefined,
              eventTime,
            },
            actorOf(ctx),
          );
          applied = true;
          return s.id;
        }
        const type = connectionTypes[req.type];
        if (type === undefined) {
          throw new ConnectError(
            "type must be CONNECTED, DISCONNECTED or LOGIN_REFUSED",
            Code.InvalidArgument,
          );
        }
        const r = await this.deps.sessions.connectionChanged(
          s.id,
          type,
          req.connectionCount,
          eventTime,
        );
        applied = r.applied;
        session = r.session;
        return s.id;
      },
    );
    if (!created) session = await this.deps.records.get(s.id);
    return create(ReportConnectionEventResponseSchema, { session: this.toProto(session), applied });
  }

  async listAuditEvents(req: Parameters<Impl["listAuditEvents"]>[0], ctx: HandlerContext) {
    const typeName = resourceTypeFromProto(req.resourceType);
    const page = await this.deps.auditLog.list(
      {
        resourceType: typeName,
        resourceId: req.resourceId,
        subject: req.subject,
        action: req.action,
        startTime: req.startTime ? timestampDate(req.startTime) : undefined,
        endTime: req.endTime ? timestampDate(req.endTime) : undefined,
      },
      { pageSize: req.pageSize, pageToken: req.pageToken, signal: ctx.signal },
    );
    return create(ListAuditEventsResponseSchema, {
      auditEvents: page.items.map(auditEventToProto),
      nextPageToken: page.nextPageToken,
    });
  }
}
