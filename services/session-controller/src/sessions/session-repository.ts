/**
 * The SessionRepository owns session records: it reads them (SessionReader), and every write goes
 * through it: the life cycle is checked, the timer fields are recomputed and stored (so any
 * replica can pick the timers up), the caps are given back when a session ends, and the change is
 * published on the bus and written to the audit log in the same step (the Repository's outbox).
 */
import type { Clock, Logger } from "@lucid-rdp/runtime";
import {
  type AuditEventStore,
  type Changes,
  type EventBus,
  type EventDraft,
  type NewRecord,
  Repository,
} from "@lucid-rdp/storage";
import type { Actor } from "../domain/actor.js";
import { releasesCaps } from "../domain/caps.js";
import { policyFromRecord, type SessionPolicyValues } from "../domain/policy.js";
import { connectedTimeChanges, nextState } from "../domain/session-state.js";
import type { SessionState } from "../domain/session-values.js";
import { type TimerSession, timerFields } from "../domain/timers.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionStore } from "../store/stores.js";
import type { CapLedger } from "./cap-ledger.js";
import { SessionReader } from "./session-reader.js";

/** Told of every change of state (and of every new session, as PENDING to PENDING), for metrics. */
export interface SessionObserver {
  transitioned(from: SessionState, to: SessionState, session: SessionRecord): void;
}

/** What the repository needs. */
export interface SessionRepositoryOptions {
  readonly store: SessionStore;
  readonly audit: AuditEventStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly defaults: SessionPolicyValues;
  readonly warnBeforeMs: number;
  /** Where the caps of an ended session go back. */
  readonly caps: CapLedger;
  readonly observer?: SessionObserver;
}

/**
 * The repository of session records: their reads, and the one writer of them (inserts, changes
 * and transitions, with events and audit).
 */
export class SessionRepository extends SessionReader {
  /** Every write of a session record: the versioned retry, its events and audit (outbox). */
  private readonly repo: Repository<SessionRecord>;

  constructor(private readonly opts: SessionRepositoryOptions) {
    super(opts.store);
    this.repo = new Repository({
      collection: opts.store,
      bus: opts.bus,
      audit: opts.audit,
      logger: opts.logger,
      now: opts.clock,
    });
  }

  /** The record as the timer rules read it (its policy resolved against the defaults). */
  timerView(r: SessionRecord): TimerSession {
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

  /**
   * Stores a new session with its `session.created` event and audit record.
   * @throws AlreadyExistsError when a session with its id exists
   */
  async insert(record: NewRecord<SessionRecord>, actor: Actor): Promise<SessionRecord> {
    const stored = await this.repo.insert(record, [
      this.event("session.created", undefined, actor, "session.create"),
    ]);
    this.opts.observer?.transitioned("PENDING", "PENDING", stored);
    return stored;
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
    opts: {
      readonly from?: readonly SessionState[];
      /** The record as the caller just wrote or read it (see ModifyOptions.current). */
      readonly current?: SessionRecord;
    } = {},
  ): Promise<SessionRecord> {
    let from: SessionRecord | undefined;
    const { record, changed } = await this.repo.modify(
      id,
      (cur) => {
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
      },
      { current: opts.current },
    );
    const prev = from as SessionRecord;
    if (!changed) return record;
    // After the write: a crash here leaves a counter above the sessions, which recountCap repairs.
    if (releasesCaps(prev.state, record.state)) await this.opts.caps.release(prev.user);
    this.opts.observer?.transitioned(prev.state, record.state, record);
    return record;
  }

  /** One round of the outbox relay: events a crashed writer left in session records. */
  relayOnce(olderThanMs: number, signal?: AbortSignal): Promise<number> {
    return this.repo.relayOnce(olderThanMs, { signal });
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
