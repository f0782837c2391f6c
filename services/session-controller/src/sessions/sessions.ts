/**
 * Sessions: create (reconnect-first, cluster-wide caps, idempotent), provision through
 * server-manager, follow connections, run the five timers, terminate. Every change goes through
 * `transition`/`apply`: the life cycle is checked, the timer fields are recomputed and stored (so
 * any replica can pick the timers up), the caps are given back when a session ends, and the change
 * is published on the bus and written to the audit log.
 */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { CreateServerRequestSchema, type ServerManagerService, ServerState } from "@lucid-rdp/gen";
import type { Clock, Logger } from "@lucid-rdp/runtime";
import {
  AlreadyExistsError,
  type AuditEventStore,
  type Changes,
  type Counters,
  type EventBus,
  type EventDraft,
  type Lease,
  type LeaseManager,
  paramsHash,
  Repository,
  RequestIdReusedError,
  RequestInProgressError,
} from "@lucid-rdp/storage";
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
  liveSessionStates,
  type SessionState,
  type SessionStateReason,
} from "../domain/session-values.js";
import {
  dueActions,
  markWarned,
  type SessionTimer,
  type TimerSession,
  timerFields,
  timerReasons,
} from "../domain/timers.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionStore } from "../store/stores.js";

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
  /** Serialises the creates of one request id across replicas (caps are taken once). */
  readonly leases: LeaseManager;
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

/**
 * The id of the session CreateSession makes for `requestId`. The session record is the request
 * id's only record: storing it is the create, and a second insert with the same id (a retry, a
 * concurrent duplicate, a retry after any crash) finds the first, so one request id never makes
 * two sessions.
 */
export function sessionIdFor(requestId: string): string {
  return uuidFrom(`create-session:${requestId}`);
}

/** What a provisioning attempt came to. */
export type ProvisionOutcome =
  /** The session moved on (READY, FAILED) or was not provisioning: nothing more to do here. */
  | { readonly kind: "settled" }
  /**
   * server-manager did not answer (unavailable, cut, timed out): the session stays PROVISIONING
   * and the attempt is repeated; CreateServer is idempotent by the session's request id.
   */
  | { readonly kind: "uncertain"; readonly error: ConnectError };

/**
 * Codes of a CreateServer failure that say nothing was created and nothing will be: the session
 * fails. Any other code (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELED, UNKNOWN, INTERNAL, ABORTED,
 * DATA_LOSS) leaves it open whether server-manager made the server, so the attempt is repeated.
 */
const definiteCodes = new Set<Code>([
  Code.InvalidArgument,
  Code.FailedPrecondition,
  Code.ResourceExhausted,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.OutOfRange,
  Code.Unimplemented,
]);

/** How long a create holds its request id's lease (it lapses if the replica dies). */
const createLeaseTtlMs = 10_000;
/** How long a duplicate waits for the first create of its request id before ABORTED. */
const createLeaseWaitMs = 15_000;

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
  /** Sessions this replica is provisioning now, and the attempt's outcome. */
  private readonly provisioning = new Map<string, Promise<ProvisionOutcome>>();
  /** Cap keys seen above the store at a refusal: the values then, and since when (recountCap). */
  private readonly capDrift = new Map<string, { counted: number; held: number; since: number }>();
  /** Every write of a session record: the versioned retry, its events and audit (outbox). */
  private readonly repo: Repository<SessionRecord>;

  constructor(private readonly opts: SessionsOptions) {
    this.repo = new Repository({
      collection: opts.store,
      bus: opts.bus,
      audit: opts.audit,
      logger: opts.logger,
      now: opts.clock,
    });
  }

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

  /**
   * CreateSession: the session the request id made (a retry gets it again, whatever crashed and
   * when), else one the user already has (reuse policy), else a new one stored PENDING with its
   * caps taken and provisioning started. `provisioning` is this attempt's outcome (a new session,
   * or one still PENDING/PROVISIONING, whose provisioning it resumes if nobody here runs it).
   * @throws RequestIdReusedError when the request id made a session with other parameters
   */
  async create(
    input: CreateSessionInput,
    actor: Actor,
  ): Promise<{ id: string; reused: boolean; provisioning?: Promise<ProvisionOutcome> }> {
    const policy = resolvePolicy(input.policy, this.opts.defaults, this.opts.bounds);
    const id = sessionIdFor(input.requestId);
    const requestHash = paramsHash({
      user: input.user,
      display: input.display,
      policy: input.policy,
      labels: input.labels,
      client: input.client?.name ?? "",
    });
    const made = await this.opts.store.find(id);
    if (made !== undefined) return this.madeBefore(made, requestHash);
    // Duplicates of a request id take turns: the first takes the caps and stores the session,
    // the others find it. A holder that died lets go when the lease lapses.
    const lease = await this.createLease(input.requestId, id);
    if ("record" in lease) return this.madeBefore(lease.record, requestHash);
    try {
      const now = await this.opts.store.find(id);
      if (now !== undefined) return this.madeBefore(now, requestHash);
      return await this.createNew(id, requestHash, input, policy, actor);
    } finally {
      await this.opts.leases.release(lease.lease).catch(() => undefined);
    }
  }

  /**
   * The create lease of a request id, or the session a duplicate holding it stored meanwhile.
   * @throws RequestInProgressError when neither came within `createLeaseWaitMs`
   */
  private async createLease(
    requestId: string,
    id: string,
  ): Promise<{ lease: Lease } | { record: SessionRecord }> {
    const name = `session-controller:create:${id}`;
    const until = Date.now() + createLeaseWaitMs;
    for (;;) {
      const lease = await this.opts.leases.acquire(name, createLeaseTtlMs);
      if (lease !== undefined) return { lease };
      const record = await this.opts.store.find(id);
      if (record !== undefined) return { record };
      if (Date.now() >= until) throw new RequestInProgressError("CreateSession", requestId);
      await sleep(50);
    }
  }

  private async createNew(
    id: string,
    requestHash: string,
    input: CreateSessionInput,
    policy: SessionPolicyValues,
    actor: Actor,
  ): Promise<{ id: string; reused: boolean; provisioning?: Promise<ProvisionOutcome> }> {
    const existing = await this.reusable(input.user, policy.reuse);
    if (existing) return { id: existing.id, reused: true };
    if (this.opts.serverManager === undefined) throw new NoServerManagerError();

    const taken: { key: string }[] = [];
    const giveBack = async () => {
      for (const t of taken) await this.opts.counters.decrement(t.key).catch(() => undefined);
    };
    for (const cap of capsToTake(input.user, this.opts.caps)) {
      let r = await this.opts.counters.tryIncrement(cap.key, cap.limit);
      if (!r.ok && (await this.recountCap(cap, input.user))) {
        r = await this.opts.counters.tryIncrement(cap.key, cap.limit);
      }
      if (!r.ok) {
        await giveBack();
        throw new CapExceededError(cap.cap, cap.limit, input.user);
      }
      taken.push(cap);
    }
    const now = this.opts.clock();
    const { policy: lengths, reusePolicy } = policyToRecord(policy);
    const timers = timerFields(
      { state: "PENDING", createTime: now, policy, warned: undefined },
      this.opts.warnBeforeMs,
    );
    let record: SessionRecord;
    try {
      record = await this.repo.insert(
        {
          id,
          requestId: input.requestId,
          requestHash,
          user: input.user,
          state: "PENDING" as const,
          display: input.display,
          client: input.client,
          policy: lengths,
          reusePolicy,
          labels: { ...input.labels },
          connectionCount: 0,
          ...timers,
        },
        [this.event("session.created", undefined, actor, "session.create")],
      );
    } catch (e) {
      // A duplicate stored it first (its caps stand for it), or nothing was stored.
      await giveBack();
      if (e instanceof AlreadyExistsError && e.key === "id") {
        const first = await this.opts.store.find(id);
        if (first !== undefined) return this.madeBefore(first, requestHash);
      }
      throw e;
    }
    this.opts.observer?.transitioned("PENDING", "PENDING", record);
    return { id, reused: false, provisioning: this.ensureProvisioning(id) };
  }

  /** The answer to a request id that already made `s`. */
  private madeBefore(
    s: SessionRecord,
    requestHash: string,
  ): { id: string; reused: boolean; provisioning?: Promise<ProvisionOutcome> } {
    if (s.requestHash !== undefined && s.requestHash !== requestHash) {
      throw new RequestIdReusedError("CreateSession", s.requestId);
    }
    const open = s.state === "PENDING" || s.state === "PROVISIONING";
    return {
      id: s.id,
      reused: false,
      ...(open ? { provisioning: this.ensureProvisioning(s.id) } : {}),
    };
  }

  /**
   * Provisions the session unless this replica already does: the running attempt's outcome. Any
   * replica may run one at the same time (CreateServer is idempotent by the session's request id,
   * and every write is versioned).
   */
  ensureProvisioning(id: string): Promise<ProvisionOutcome> {
    const running = this.provisioning.get(id);
    if (running !== undefined) return running;
    const attempt = this.provision(id)
      .catch((e: unknown): ProvisionOutcome => {
        this.opts.logger.warn({ err: e, session: id }, "provisioning failed: retried");
        return { kind: "uncertain", error: ConnectError.from(e, Code.Unavailable) };
      })
      .finally(() => this.provisioning.delete(id));
    this.provisioning.set(id, attempt);
    return attempt;
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

  /**
   * Gets the session a server through server-manager: PROVISIONING, then READY or FAILED. A
   * definite refusal fails the session; an answer that never came (see `definiteCodes`) leaves it
   * PROVISIONING for the next attempt, with the reason in its state message.
   */
  async provision(id: string): Promise<ProvisionOutcome> {
    const sm = this.opts.serverManager;
    if (sm === undefined) return { kind: "settled" };
    let s = await this.opts.store.get(id);
    if (s.state === "PENDING") s = await this.transition(id, "PROVISIONING", systemActor);
    if (s.state !== "PROVISIONING") return { kind: "settled" };
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
      return { kind: "settled" };
    } catch (e) {
      const err = ConnectError.from(e);
      if (definiteCodes.has(err.code)) {
        await this.end(
          id,
          "FAILED",
          "PROVISIONING_FAILED",
          `no server: ${err.rawMessage}`,
          systemActor,
        );
        return { kind: "settled" };
      }
      const message = `waiting for a server: server-manager did not answer (${Code[err.code]}): ${err.rawMessage}`;
      await this.apply(id, { stateMessage: message }, { from: ["PROVISIONING"] }).catch(
        () => undefined,
      );
      return { kind: "uncertain", error: err };
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
            const extra = { timer: action.timer, deadline: action.deadline.toISOString() };
            await this.apply(
              s.id,
              { warned: markWarned(cur.warned, action.timer, action.deadline) },
              {
                events: [
                  {
                    type: "session.timer_warning",
                    data: (session) => ({ session, previousState: undefined, ...extra }),
                  },
                ],
              },
            );
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

  /**
   * Repairs sessions a crash or an outage left half-way: termination is finished; provisioning is
   * resumed once nobody has touched the session for 5 s, and failed once it is older than the
   * provisioning timeout (counted from its creation, which nothing moves). A server made for a
   * session failed here is deleted by the server follower's reconcile (orphaned servers).
   */
  async repairTick(): Promise<void> {
    const now = this.opts.clock().getTime();
    const stuck = await this.opts.store.list({
      where: { state: { in: ["PENDING", "PROVISIONING", "TERMINATING"] } },
      pageSize: 200,
    });
    for (const s of stuck.items) {
      if (s.state === "TERMINATING") {
        await this.finishTerminate(s.id).catch(() => undefined);
      } else if (now - s.createTime.getTime() > this.opts.provisionTimeoutMs) {
        await this.end(
          s.id,
          "FAILED",
          "PROVISIONING_FAILED",
          `provisioning timed out${s.stateMessage ? ` (${s.stateMessage})` : ""}`,
          systemActor,
        ).catch(() => undefined);
      } else if (now - s.updateTime.getTime() > 5_000 && this.opts.serverManager) {
        // In the background, so that a slow server-manager does not stall the timers.
        void this.ensureProvisioning(s.id);
      }
    }
  }

  /** One round of the outbox relay (leader): events a crashed writer left in session records. */
  relayTick(signal?: AbortSignal): Promise<number> {
    return this.repo.relayOnce(5_000, { signal });
  }

  /**
   * Applies changes (no change of state), recomputing the timer fields, with the events given.
   * With `opts.from`, a session found in another state is returned as it is.
   */
  async apply(
    id: string,
    changes: Changes<SessionRecord>,
    opts: {
      readonly from?: readonly SessionState[];
      readonly events?: readonly EventDraft<SessionRecord>[];
    } = {},
  ): Promise<SessionRecord> {
    const { record } = await this.repo.modify(id, (cur) => {
      if (opts.from !== undefined && !opts.from.includes(cur.state)) return undefined;
      const merged = { ...cur, ...changes } as SessionRecord;
      const timers = timerFields(this.timerView(merged), this.opts.warnBeforeMs);
      return { changes: { ...changes, ...timers }, events: opts.events };
    });
    return record;
  }

  /**
   * Moves a session to `to` (checked), stores it with its event and audit record (one write),
   * gives caps back at the end. A move out of ACTIVE (whatever the cause: a disconnect,
   * TerminateSession, a timer, a failure) closes the open connected interval here, from the
   * record as stored at the move, so that no caller can forget it. With `opts.from`, a session
   * found in another state is returned as it is (checked against the record each write is based
   * on, so no concurrent change slips in).
   */
  async transition(
    id: string,
    to: SessionState,
    actor: Actor,
    changes: Changes<SessionRecord> = {},
    opts: { readonly from?: readonly SessionState[] } = {},
  ): Promise<SessionRecord> {
    let from: SessionRecord | undefined;
    const { record, changed } = await this.repo.modify(id, (cur) => {
      from = cur;
      if (cur.state === to) return undefined;
      if (opts.from !== undefined && !opts.from.includes(cur.state)) return undefined;
      const state = nextState(id, cur.state, to);
      const all: Changes<SessionRecord> = {
        ...changes,
        ...connectedTimeChanges(cur.state, state, cur, this.opts.clock()),
      };
      const merged = { ...cur, ...all, state } as SessionRecord;
      const timers = timerFields(this.timerView(merged), this.opts.warnBeforeMs);
      return {
        changes: { ...all, ...timers, state },
        events: [
          this.event("session.state_changed", cur.state, actor, `session.${to.toLowerCase()}`),
        ],
      };
    });
    const prev = from as SessionRecord;
    if (!changed) return record;
    // After the write: a crash here leaves a counter above the sessions, which recountCap repairs.
    if (releasesCaps(prev.state, record.state)) {
      for (const cap of capsToTake(prev.user, this.opts.caps)) {
        await this.opts.counters.decrement(cap.key).catch(() => undefined);
      }
    }
    this.opts.observer?.transitioned(prev.state, record.state, record);
    return record;
  }

  /** The event (and audit record) of a session's creation or change of state. */
  private event(
    type: string,
    previousState: SessionState | undefined,
    actor: Actor,
    action: string,
    extra?: object,
  ): EventDraft<SessionRecord> {
    return {
      type,
      data: (session) => ({ session, previousState, ...extra }),
      audit: (session) => ({
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
      }),
    };
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
