/**
 * CreateSession: reconnect-first, cluster-wide caps, idempotent by request id. The session record
 * is the request id's only record (its id follows from the request id), so a retry after any
 * crash, or a concurrent duplicate, finds the first.
 */
import type { Clock } from "@lucid-rdp/runtime";
import {
  AlreadyExistsError,
  type LeaseManager,
  paramsHash,
  RequestIdReusedError,
} from "@lucid-rdp/storage";
import type { Actor } from "../domain/actor.js";
import {
  type PolicyBounds,
  policyToRecord,
  resolvePolicy,
  type SessionPolicyValues,
} from "../domain/policy.js";
import { NoServerManagerError } from "../domain/session-errors.js";
import { type SessionState, usableSessionStates } from "../domain/session-values.js";
import { timerFields } from "../domain/timers.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionStore } from "../store/stores.js";
import type { CapLedger } from "./cap-ledger.js";
import { acquireCreateLease } from "./create-lease.js";
import type { Provisioner, ProvisionOutcome } from "./provisioner.js";
import { sessionIdFor } from "./session-ids.js";
import type { SessionRepository } from "./session-repository.js";

/** What CreateSession asks for, in domain terms. */
export interface CreateSessionInput {
  readonly requestId: string;
  readonly user: string;
  readonly display: SessionRecord["display"];
  readonly client?: SessionRecord["client"];
  readonly policy: Partial<SessionPolicyValues>;
  readonly labels: Readonly<Record<string, string>>;
}

/** The session a create came to, and its provisioning attempt while one runs. */
export interface CreateSessionResult {
  readonly id: string;
  readonly reused: boolean;
  readonly provisioning?: Promise<ProvisionOutcome>;
}

/** What the creator needs. */
export interface SessionCreatorOptions {
  readonly store: SessionStore;
  readonly writer: SessionRepository;
  readonly caps: CapLedger;
  readonly provisioner: Provisioner;
  /** Serialises the creates of one request id across replicas (caps are taken once). */
  readonly leases: LeaseManager;
  /** Whether a server-manager is configured (without one, new sessions are refused). */
  readonly canProvision: boolean;
  readonly clock: Clock;
  readonly defaults: SessionPolicyValues;
  readonly bounds: PolicyBounds;
  readonly warnBeforeMs: number;
}

/** Creates sessions, or finds the one a request id (or the user) already has. */
export class SessionCreator {
  constructor(private readonly opts: SessionCreatorOptions) {}

  /** The session the user already has that CreateSession should hand back, if any. */
  async reusable(
    user: string,
    reuse: SessionPolicyValues["reuse"],
  ): Promise<SessionRecord | undefined> {
    if (reuse === "NEVER") return undefined;
    const states: readonly SessionState[] =
      reuse === "DISCONNECTED" ? ["DISCONNECTED"] : usableSessionStates;
    return this.opts.store.findOne({ user, state: { in: [...states] } });
  }

  /**
   * CreateSession: the session the request id made (a retry gets it again, whatever crashed and
   * when), else one the user already has (reuse policy), else a new one stored PENDING with its
   * caps taken and provisioning started. `provisioning` is this attempt's outcome (a new session,
   * or one still PENDING/PROVISIONING, whose provisioning it resumes if nobody here runs it).
   * @throws RequestIdReusedError when the request id made a session with other parameters
   */
  async create(input: CreateSessionInput, actor: Actor): Promise<CreateSessionResult> {
    const policy = resolvePolicy(input.policy, this.opts.defaults, this.opts.bounds);
    const id = sessionIdFor(input.requestId);
    const requestHash = paramsHash({
      user: input.user,
      display: input.display,
      policy: input.policy,
      labels: input.labels,
      client: input.client?.name ?? "",
    });
    const made = await this.opts.writer.find(id);
    if (made !== undefined) return this.madeBefore(made, requestHash);
    // Duplicates of a request id take turns: the first takes the caps and stores the session,
    // the others find it. A holder that died lets go when the lease lapses.
    const lease = await acquireCreateLease(this.opts, input.requestId, id);
    if ("record" in lease) return this.madeBefore(lease.record, requestHash);
    try {
      // Two independent reads, side by side: the request id's session (a duplicate may have
      // stored it before the lease came), and the session the user already has.
      const [now, existing] = await Promise.all([
        this.opts.writer.find(id),
        this.reusable(input.user, policy.reuse),
      ]);
      if (now !== undefined) return this.madeBefore(now, requestHash);
      return await this.createNew(id, requestHash, input, policy, actor, existing);
    } finally {
      await this.opts.leases.release(lease.lease).catch(() => undefined);
    }
  }

  private async createNew(
    id: string,
    requestHash: string,
    input: CreateSessionInput,
    policy: SessionPolicyValues,
    actor: Actor,
    existing: SessionRecord | undefined,
  ): Promise<CreateSessionResult> {
    if (existing) return { id: existing.id, reused: true };
    if (!this.opts.canProvision) throw new NoServerManagerError();

    const taken = await this.opts.caps.take(input.user);
    const now = this.opts.clock();
    const { policy: lengths, reusePolicy } = policyToRecord(policy);
    const timers = timerFields(
      { state: "PENDING", createTime: now, policy, warned: undefined },
      this.opts.warnBeforeMs,
    );
    let stored: SessionRecord;
    try {
      stored = await this.opts.writer.insert(
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
        actor,
      );
    } catch (e) {
      // A duplicate stored it first (its caps stand for it), or nothing was stored.
      await taken.giveBack();
      if (e instanceof AlreadyExistsError && e.key === "id") {
        const first = await this.opts.writer.find(id);
        if (first !== undefined) return this.madeBefore(first, requestHash);
      }
      throw e;
    }
    return { id, reused: false, provisioning: this.opts.provisioner.ensure(id, stored) };
  }

  /** The answer to a request id that already made `s`. */
  private madeBefore(s: SessionRecord, requestHash: string): CreateSessionResult {
    if (s.requestHash !== undefined && s.requestHash !== requestHash) {
      throw new RequestIdReusedError("CreateSession", s.requestId);
    }
    const open = s.state === "PENDING" || s.state === "PROVISIONING";
    return {
      id: s.id,
      reused: false,
      ...(open ? { provisioning: this.opts.provisioner.ensure(s.id) } : {}),
    };
  }
}
