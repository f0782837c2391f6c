/**
 * Sessions: create (reconnect-first, cluster-wide caps, idempotent), provision through
 * server-manager, follow connections, run the five timers, terminate. Every change goes through
 * `transition`/`apply`: the life cycle is checked, the timer fields are recomputed and stored (so
 * any replica can pick the timers up), the caps are given back when a session ends, and the change
 * is published on the bus and written to the audit log.
 */
import { createHash, randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { CreateServerRequestSchema, type ServerManagerService, ServerState } from "@lucid-rdp/gen";
import type { Logger } from "@lucid-rdp/runtime";
import {
  AlreadyExistsError,
  type AuditEventStore,
  type Changes,
  ConflictError,
  type Counters,
  type EventBus,
  liveSessionStates,
  type SessionRecord,
  type SessionState,
  type SessionStateReason,
  type SessionStore,
} from "@lucid-rdp/storage";
import type { Clock } from "../clock.js";
import {
  CapExceededError,
  type CapLimits,
  type CapToTake,
  capHoldingStates,
  capsToTake,
  releasesCaps,
} from "../domain/caps.js";
import {
  type PolicyBounds,
  policyFromRecord,
  policyToRecord,
  resolvePolicy,
  type SessionPolicyValues,
} from "../domain/policy.js";
import { connectedTimeChanges, isTerminal, nextState } from "../domain/session-state.js";
import {
  dueActions,
  markWarned,
  type SessionTimer,
  type TimerSession,
  timerFields,
  timerReasons,
} from "../domain/timers.js";

/** Thrown when CreateSession cannot reach server-manager because none is configured. */
export class NoServerManagerError extends Error {
  override readonly name = "NoServerManagerError";
  constructor() {
    super("no server-manager is configured (SERVER_MANAGER_URL): sessions cannot get servers");
  }
}

/** Thrown when a call needs a live session and the session has ended (or is ending). */
export class SessionEndedError extends Error {
  override readonly name = "SessionEndedError";
  constructor(
    readonly sessionId: string,
    readonly state: SessionState,
  ) {
    super(`session ${sessionId} is ${state}`);
  }
}

export interface Actor {
  readonly subject: string;
  readonly roles: readonly string[];
}

export const systemActor: Actor = { subject: "session-controller", roles: ["service"] };

export interface CreateSessionInput {
  readonly requestId: string;
  readonly user: string;
  readonly display: SessionRecord["display"];
  readonly client?: SessionRecord["client"];
  readonly policy: Partial<SessionPolicyValues>;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SessionsOptions {
  readonly store: SessionStore;
  readonly audit: AuditEventStore;
  readonly counters: Counters;
  readonly bus: EventBus;
  readonly serverManager?: Client<typeof ServerManagerService>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly defaults: SessionPolicyValues;
  readonly bounds: PolicyBounds;
  readonly caps: CapLimits;
  readonly warnBeforeMs: number;
  readonly provisionTimeoutMs: number;
  /** Told of every change of state, for metrics. */
  readonly observer?: {
    transitioned(from: SessionState, to: SessionState, session: SessionRecord): void;
  };
}

/** A UUID (version 4 layout) that follows from `seed`: the same seed, the same id. */
function uuidFrom(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The request id of a session's CreateServer: stable, so a retry never makes a second server. */
export function serverRequestId(sessionId: string): string {
  return uuidFrom(`create-server:${sessionId}`);
}

/** How long a cap counter must stay above the store, unchanged, before it is recounted. */
export const capDriftMs = 10_000;

const usable: readonly SessionState[] = [
  "PENDING",
  "PROVISIONING",
  "READY",
  "ACTIVE",
  "DISCONNECTED",
];

/** The states in which a session stands on a running server: its server's end ends them. */
export const serverBoundStates: readonly SessionState[] = ["READY", "ACTIVE", "DISCONNECTED"];

export class Sessions {
  /** Sessions this replica is provisioning now. */
  private readonly provisioning = new Set<string>();
  /** Cap keys seen above the store at a refusal: the values then, and since when (recountCap). */
  private readonly capDrift = new Map<string, { counted: number; held: number; since: number }>();

  constructor(private readonly opts: SessionsOptions) {}

  private timerView(r: SessionRecord): TimerSession {
    const policy = policyFromRecord(r, this.opts.defaults);
    return {
      state: r.state,
      createTime: r.createTime,
      readyTime: r.readyTime,
      connectedTime: r.connectedTime,
      disconnectedTime: r.disconnectedTime,
      lastActivityTime: r.lastActivityTime,
      lastKeepAliveTime: r.lastKeepAliveTime,
      policy,
      warned: r.warned,
    };
  }

  /** The session the user already has that CreateSession should hand back, if any. */
  async reusable(
    user: string,
    reuse: SessionPolicyValues["reuse"],
  ): Promise<SessionRecord | undefined> {
    if (reuse === "NEVER") return undefined;
    const states = reuse === "DISCONNECTED" ? (["DISCONNECTED"] as const) : usable;
    return this.opts.store.findOne({ user, state: { in: [...states] } });
  }

  /** Stores a new session PENDING (caps taken) and starts provisioning it. Returns its id. */
  async create(input: CreateSessionInput, actor: Actor): Promise<{ id: string; reused: boolean }> {
    const policy = resolvePolicy(input.policy, this.opts.defaults, this.opts.bounds);
    const existing = await this.reusable(input.user, policy.reuse);
    if (existing) return { id: existing.id, reused: true };
    if (this.opts.serverManager === undefined) throw new NoServerManagerError();

    const taken: { key: string }[] = [];
    for (const cap of capsToTake(input.user, this.opts.caps)) {
      let r = await this.opts.counters.tryIncrement(cap.key, cap.limit);
      if (!r.ok && (await this.recountCap(cap, input.user))) {
        r = await this.opts.counters.tryIncrement(cap.key, cap.limit);
      }
      if (!r.ok) {
        for (const t of taken) await this.opts.counters.decrement(t.key).catch(() => undefined);
        throw new CapExceededError(cap.cap, cap.limit, input.user);
      }
      taken.push(cap);
    }
    const id = randomUUID();
    const now = this.opts.clock();
    const { policy: lengths, reusePolicy } = policyToRecord(policy);
    let record: SessionRecord;
    try {
      const base = {
        id,
        requestId: input.requestId,
        user: input.user,
        state: "PENDING" as const,
        display: input.display,
        client: input.client,
        policy: lengths,
        reusePolicy,
        labels: { ...input.labels },
        deadlines: {},
        connectionCount: 0,
      };
      const timers = timerFields(
        { state: "PENDING", createTime: now, policy, warned: undefined },
        this.opts.warnBeforeMs,
      );
      record = await this.opts.store.insert({ ...base, ...timers });
    } catch (e) {
      for (const t of taken) await this.opts.counters.decrement(t.key).catch(() => undefined);
      throw e;
    }
    await this.emit("session.created", record, undefined, actor, "session.create");
    this.opts.observer?.transitioned("PENDING", "PENDING", record);
    this.provisioning.add(id);
    void this.provision(id)
      .catch((e: unknown) => this.opts.logger.warn({ err: e, session: id }, "provisioning failed"))
      .finally(() => this.provisioning.delete(id));
    return { id, reused: false };
  }

  /**
   * A full cap is checked against the store before it says no for good: a replica that crashed
   * between taking a cap and storing its session leaves the counter above the sessions that hold
   * it, and without this the user would be refused forever. A counter above the store is normal for
   * a moment (a create between its increment and its insert), so drift is only repaired when a
   * later refusal, at least `capDriftMs` after the first, sees the very same counter and store
   * count: then the counter is set to the store's count and true is returned (take the cap again).
   * The refusal in between stands. Only a coincidence (an unrelated create in flight at exactly
   * that moment, with both values unchanged) could let one session too many through.
   */
  private async recountCap(cap: CapToTake, user: string): Promise<boolean> {
    const held = await this.opts.store.count({
      ...(cap.cap === "per_user" ? { user } : {}),
      state: { in: [...capHoldingStates] },
    });
    const counted = await this.opts.counters.get(cap.key);
    const now = this.opts.clock().getTime();
    const seen = this.capDrift.get(cap.key);
    if (held >= counted) {
      this.capDrift.delete(cap.key);
      return false;
    }
    if (seen === undefined || seen.counted !== counted || seen.held !== held) {
      if (this.capDrift.size >= 10_000) this.capDrift.clear();
      this.capDrift.set(cap.key, { counted, held, since: now });
      return false;
    }
    if (now - seen.since < capDriftMs) return false;
    this.capDrift.delete(cap.key);
    this.opts.logger.warn(
      { cap: cap.cap, key: cap.key, counted, held, sinceMs: now - seen.since },
      "cap counter above the sessions holding it: recounted from the store",
    );
    await this.opts.counters.set(cap.key, held);
    return true;
  }

  /** Gets the session a server through server-manager: PROVISIONING, then READY or FAILED. */
  async provision(id: string): Promise<void> {
    const sm = this.opts.serverManager;
    if (sm === undefined) return;
    let s = await this.opts.store.get(id);
    if (s.state === "PENDING") s = await this.transition(id, "PROVISIONING", systemActor);
    if (s.state !== "PROVISIONING") return;
    try {
      const res = await sm.createServer(
        create(CreateServerRequestSchema, {
          requestId: serverRequestId(id),
          owner: s.user,
          sessionId: id,
          waitTimeout: durationFromMs(60_000),
        }),
        { timeoutMs: 90_000 },
      );
      await this.applyServer(id, res.server);
    } catch (e) {
      const err = ConnectError.from(e);
      await this.end(
        id,
        "FAILED",
        "PROVISIONING_FAILED",
        `no server: ${err.rawMessage}`,
        systemActor,
      );
    }
  }

  /** Moves a PROVISIONING session on from its server's state. */
  private async applyServer(
    id: string,
    server:
      | {
          id: string;
          nodeId: string;
          state: ServerState;
          endpoint?: { host: string; port: number };
          stateMessage: string;
        }
      | undefined,
  ): Promise<void> {
    if (server === undefined) return;
    if (server.state === ServerState.READY && server.endpoint) {
      await this.transition(id, "READY", systemActor, {
        serverId: server.id,
        nodeId: server.nodeId,
        host: server.endpoint.host,
        port: server.endpoint.port,
        readyTime: this.opts.clock(),
      });
    } else if (server.state === ServerState.FAILED || server.state === ServerState.STOPPED) {
      await this.end(
        id,
        "FAILED",
        "PROVISIONING_FAILED",
        server.stateMessage || "the server failed",
        systemActor,
      );
    } else {
      await this.apply(id, { serverId: server.id, nodeId: server.nodeId });
    }
  }

  /** Ends a session: TERMINATING, its server deleted, TERMINATED. Idempotent. */
  async terminate(
    id: string,
    reason: SessionStateReason,
    message: string,
    actor: Actor,
  ): Promise<SessionRecord> {
    const s = await this.opts.store.get(id);
    if (s.state === "TERMINATING" || isTerminal(s.state)) return s;
    const terminating = await this.transition(id, "TERMINATING", actor, {
      stateReason: reason,
      stateMessage: message,
    });
    void this.finishTerminate(id).catch((e: unknown) =>
      this.opts.logger.warn(
        { err: e, session: id },
        "termination not finished: the timer loop retries",
      ),
    );
    return terminating;
  }

  /**
   * Deletes a TERMINATING session's server; marks the session TERMINATED once the server is
   * STOPPED (or gone). Until then it stays TERMINATING and the repair loop calls this again.
   */
  async finishTerminate(id: string): Promise<void> {
    const s = await this.opts.store.get(id);
    if (s.state !== "TERMINATING") return;
    if (s.serverId && this.opts.serverManager) {
      try {
        const res = await this.opts.serverManager.deleteServer({
          serverId: s.serverId,
          force: true,
        });
        const state = res.server?.state;
        if (state !== ServerState.STOPPED && state !== ServerState.FAILED) {
          const again = await this.opts.serverManager.getServer({ serverId: s.serverId });
          const now = again.server?.state;
          if (now !== ServerState.STOPPED && now !== ServerState.FAILED) return;
        }
      } catch (e) {
        if (ConnectError.from(e).code !== Code.NotFound) throw e;
      }
    }
    await this.transition(id, "TERMINATED", systemActor, { endTime: this.opts.clock() });
  }

  private async end(
    id: string,
    to: "FAILED",
    reason: SessionStateReason,
    message: string,
    actor: Actor,
  ): Promise<void> {
    const s = await this.opts.store.find(id);
    if (s === undefined || isTerminal(s.state)) return;
    await this.transition(id, to, actor, {
      stateReason: reason,
      stateMessage: message,
      endTime: this.opts.clock(),
    });
    if (s.serverId && this.opts.serverManager) {
      await this.opts.serverManager
        .deleteServer({ serverId: s.serverId, force: true })
        .catch(() => undefined);
    }
  }

  /**
   * Ends a session because its server ended: FAILED with `reason` (SERVER_FAILED for a FAILED
   * server, SERVER_DELETED for one stopped or deleted by someone else). Only a READY, ACTIVE or
   * DISCONNECTED session on that very server is ended, checked in the same versioned write, so a
   * session already ending or ended (or provisioning, which its own path repairs) stays as it is
   * and a repeated call changes nothing. Leaving ACTIVE closes the connected time (`transition`).
   * The server is terminal or gone, so it is not deleted. Returns the session once it is FAILED
   * with `reason` (by this call or a concurrent one), undefined when it was not ended.
   */
  async serverEnded(
    sessionId: string,
    serverId: string,
    reason: "SERVER_FAILED" | "SERVER_DELETED",
    message: string,
  ): Promise<SessionRecord | undefined> {
    const s = await this.opts.store.find(sessionId);
    if (s === undefined || s.serverId !== serverId || !serverBoundStates.includes(s.state)) {
      return undefined;
    }
    const next = await this.transition(
      sessionId,
      "FAILED",
      systemActor,
      { stateReason: reason, stateMessage: message, endTime: this.opts.clock() },
      { from: serverBoundStates },
    );
    return next.state === "FAILED" && next.stateReason === reason ? next : undefined;
  }

  /** KeepAlive: restarts the keepalive timer. */
  async keepAlive(id: string): Promise<SessionRecord> {
    const s = await this.opts.store.get(id);
    if (!usable.includes(s.state)) throw new SessionEndedError(id, s.state);
    return this.apply(id, { lastKeepAliveTime: this.opts.clock() });
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
    const s = await this.opts.store.get(sessionId);
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
      const session = await this.transition(sessionId, "ACTIVE", systemActor, {
        ...base,
        connectedTime: now,
        connectCount: (s.connectCount ?? 0) + 1,
        reconnects: (s.reconnects ?? 0) + (s.state === "DISCONNECTED" ? 1 : 0),
      });
      return { session, applied: true };
    }
    if (type === "DISCONNECTED" && connectionCount === 0 && s.state === "ACTIVE") {
      // `transition` closes the connected interval (disconnectedTime, totalConnectedMs).
      const session = await this.transition(sessionId, "DISCONNECTED", systemActor, base);
      return { session, applied: true };
    }
    if (!usable.includes(s.state)) return { session: s, applied: false };
    return { session: await this.apply(sessionId, base), applied: true };
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
        id: uuidFrom(`login-refused:${report.requestId}`),
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

  /** The live session on a server, if any. */
  findByServer(serverId: string): Promise<SessionRecord | undefined> {
    return this.opts.store.findOne({ serverId, state: { in: [...liveSessionStates] } });
  }

  /** One round of the timers (leader only): warnings first, then the acts. */
  async timersTick(signal?: AbortSignal): Promise<number> {
    const now = this.opts.clock();
    let done = 0;
    const due = await this.opts.store.list({
      where: { nextDeadline: { lt: now } },
      pageSize: 200,
      signal,
    });
    for (const s of due.items) {
      try {
        for (const action of dueActions(this.timerView(s), now, this.opts.warnBeforeMs)) {
          if (action.kind === "warn") {
            const cur = await this.opts.store.get(s.id);
            const next = await this.apply(s.id, {
              warned: markWarned(cur.warned, action.timer, action.deadline),
            });
            await this.publish("session.timer_warning", next, undefined, {
              timer: action.timer,
              deadline: action.deadline.toISOString(),
            });
          } else {
            await this.terminate(
              s.id,
              timerReasons[action.timer],
              `${timerLabel(action.timer)} reached at ${action.deadline.toISOString()}`,
              systemActor,
            );
            break;
          }
          done++;
        }
      } catch (e) {
        this.opts.logger.warn({ err: e, session: s.id }, "timer action failed: retried next tick");
      }
    }
    return done;
  }

  /** Repairs sessions a crash left half-way: provisioning and termination. */
  async repairTick(): Promise<void> {
    const now = this.opts.clock().getTime();
    const stuck = await this.opts.store.list({
      where: { state: { in: ["PENDING", "PROVISIONING", "TERMINATING"] } },
      pageSize: 200,
    });
    for (const s of stuck.items) {
      const age = now - s.updateTime.getTime();
      if (s.state === "TERMINATING") {
        await this.finishTerminate(s.id).catch(() => undefined);
      } else if (age > this.opts.provisionTimeoutMs) {
        await this.end(
          s.id,
          "FAILED",
          "PROVISIONING_FAILED",
          "provisioning timed out",
          systemActor,
        );
      } else if (age > 5_000 && this.opts.serverManager && !this.provisioning.has(s.id)) {
        // CreateServer is idempotent by the session's request id: asking again is safe. In the
        // background, so that a slow server-manager does not stall the timers.
        this.provisioning.add(s.id);
        void this.provision(s.id)
          .catch(() => undefined)
          .finally(() => this.provisioning.delete(s.id));
      }
    }
  }

  /** Applies changes (no change of state), recomputing the timer fields. */
  async apply(id: string, changes: Changes<SessionRecord>): Promise<SessionRecord> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.opts.store.get(id);
      const merged = { ...cur, ...changes } as SessionRecord;
      const timers = timerFields(this.timerView(merged), this.opts.warnBeforeMs);
      try {
        const next = await this.opts.store.update(id, cur.version, { ...changes, ...timers });
        return next;
      } catch (e) {
        if (e instanceof ConflictError && attempt < 8) continue;
        throw e;
      }
    }
  }

  /**
   * Moves a session to `to` (checked), stores, publishes, audits, gives caps back at the end. A
   * move out of ACTIVE (whatever the cause: a disconnect, TerminateSession, a timer, a failure)
   * closes the open connected interval here, from the record as stored at the move, so that no
   * caller can forget it. With `opts.from`, a session found in another state is returned as it
   * is (checked against the record each write is based on, so no concurrent change slips in).
   */
  async transition(
    id: string,
    to: SessionState,
    actor: Actor,
    changes: Changes<SessionRecord> = {},
    opts: { readonly from?: readonly SessionState[] } = {},
  ): Promise<SessionRecord> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.opts.store.get(id);
      if (cur.state === to) return cur;
      if (opts.from !== undefined && !opts.from.includes(cur.state)) return cur;
      const state = nextState(id, cur.state, to);
      const all: Changes<SessionRecord> = {
        ...changes,
        ...connectedTimeChanges(cur.state, state, cur, this.opts.clock()),
      };
      const merged = { ...cur, ...all, state } as SessionRecord;
      const timers = timerFields(this.timerView(merged), this.opts.warnBeforeMs);
      try {
        const next = await this.opts.store.update(id, cur.version, {
          ...all,
          ...timers,
          state,
        });
        if (releasesCaps(cur.state, state)) {
          for (const cap of capsToTake(cur.user, this.opts.caps)) {
            await this.opts.counters.decrement(cap.key).catch(() => undefined);
          }
        }
        await this.emit(
          "session.state_changed",
          next,
          cur.state,
          actor,
          `session.${to.toLowerCase()}`,
        );
        this.opts.observer?.transitioned(cur.state, state, next);
        return next;
      } catch (e) {
        if (e instanceof ConflictError && attempt < 8) continue;
        throw e;
      }
    }
  }

  private async publish(
    type: string,
    session: SessionRecord,
    previousState?: SessionState,
    extra?: object,
  ) {
    try {
      await this.opts.bus.publish({
        type,
        subject: session.id,
        data: { session, previousState, ...extra },
      });
    } catch (e) {
      this.opts.logger.warn({ err: e, type, session: session.id }, "event not published");
    }
  }

  private async emit(
    type: string,
    session: SessionRecord,
    previousState: SessionState | undefined,
    actor: Actor,
    action: string,
  ): Promise<void> {
    await this.publish(type, session, previousState);
    try {
      await this.opts.audit.insert({
        id: randomUUID(),
        time: this.opts.clock(),
        actorSubject: actor.subject,
        actorRoles: [...actor.roles],
        action,
        resourceType: "session",
        resourceId: session.id,
        requestId: session.requestId,
        details: {
          user: session.user,
          state: session.state,
          ...(previousState ? { previous_state: previousState } : {}),
          ...(session.stateReason ? { reason: session.stateReason } : {}),
          ...(session.serverId ? { server: session.serverId } : {}),
        },
      });
    } catch (e) {
      this.opts.logger.warn({ err: e, session: session.id }, "audit event not written");
    }
  }
}

function timerLabel(timer: SessionTimer): string {
  return {
    connect: "connect deadline",
    idle: "idle timeout",
    disconnected: "disconnected limit",
    max_duration: "maximum duration",
    keepalive: "keepalive expiry",
  }[timer];
}
