/**
 * Sessions: the one face of the session code for the handler, the followers and the leader loops.
 * It wires the pieces (writer, cap ledger, creator, provisioner, ender, activity, ticks) from one
 * options object and hands each call to the piece that does it.
 */
import type { Clock, Logger } from "@lucid-rdp/runtime";
import type { AuditEventStore, Counters, EventBus, LeaseManager } from "@lucid-rdp/storage";
import type { ServerManagerClient } from "../clients/server-manager.js";
import type { Actor } from "../domain/actor.js";
import type { CapLimits } from "../domain/caps.js";
import type { PolicyBounds, SessionPolicyValues } from "../domain/policy.js";
import type { SessionStateReason } from "../domain/session-values.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionStore } from "../store/stores.js";
import { CapLedger } from "./cap-ledger.js";
import { Provisioner } from "./provisioner.js";
import { SessionActivity } from "./session-activity.js";
import {
  type CreateSessionInput,
  type CreateSessionResult,
  SessionCreator,
} from "./session-creator.js";
import { SessionEnder } from "./session-ender.js";
import { type SessionObserver, SessionRepository } from "./session-repository.js";
import { SessionTicks } from "./session-ticks.js";

/** Everything the session code needs. */
export interface SessionsOptions {
  readonly store: SessionStore;
  readonly audit: AuditEventStore;
  readonly counters: Counters;
  /** Serialises the creates of one request id across replicas (caps are taken once). */
  readonly leases: LeaseManager;
  readonly bus: EventBus;
  /** Where servers come from; without one, CreateSession fails (NoServerManagerError). */
  readonly serverManager?: ServerManagerClient;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly defaults: SessionPolicyValues;
  readonly bounds: PolicyBounds;
  readonly caps: CapLimits;
  readonly warnBeforeMs: number;
  readonly provisionTimeoutMs: number;
  /** Told of every change of state, for metrics. */
  readonly observer?: SessionObserver;
}

/** The sessions of the cluster: create, provision, follow, time out, end. */
export class Sessions {
  /** The session records: every read and write of them. */
  readonly repository: SessionRepository;
  private readonly creator: SessionCreator;
  private readonly ender: SessionEnder;
  private readonly activity: SessionActivity;
  private readonly ticks: SessionTicks;
  /** The session caps (per user, in total). */
  readonly caps: CapLedger;
  /** See SessionRepository.transition. */
  readonly transition: SessionRepository["transition"];

  constructor(opts: SessionsOptions) {
    const { store, serverManager, logger, clock } = opts;
    const canProvision = serverManager !== undefined;
    this.caps = new CapLedger({
      store,
      counters: opts.counters,
      caps: opts.caps,
      logger,
      clock,
    });
    const caps = this.caps;
    this.repository = new SessionRepository({
      store,
      audit: opts.audit,
      bus: opts.bus,
      logger,
      clock,
      defaults: opts.defaults,
      warnBeforeMs: opts.warnBeforeMs,
      caps,
      observer: opts.observer,
    });
    const writer = this.repository;
    this.transition = (...args) => writer.transition(...args);
    this.ender = new SessionEnder({ writer, serverManager, logger, clock });
    const provisioner = new Provisioner({
      writer,
      ender: this.ender,
      serverManager,
      logger,
      clock,
    });
    this.creator = new SessionCreator({
      store,
      writer,
      caps,
      provisioner,
      leases: opts.leases,
      canProvision,
      clock,
      defaults: opts.defaults,
      bounds: opts.bounds,
      warnBeforeMs: opts.warnBeforeMs,
    });
    this.activity = new SessionActivity({ audit: opts.audit, writer, clock });
    this.ticks = new SessionTicks({
      store,
      writer,
      ender: this.ender,
      provisioner,
      canProvision,
      logger,
      clock,
      warnBeforeMs: opts.warnBeforeMs,
      provisionTimeoutMs: opts.provisionTimeoutMs,
    });
  }

  /** See SessionCreator.create. */
  create(input: CreateSessionInput, actor: Actor): Promise<CreateSessionResult> {
    return this.creator.create(input, actor);
  }

  /** See SessionEnder.terminate. */
  terminate(
    id: string,
    reason: SessionStateReason,
    message: string,
    actor: Actor,
  ): Promise<SessionRecord> {
    return this.ender.terminate(id, reason, message, actor);
  }

  /** See SessionEnder.serverEnded. */
  serverEnded(
    sessionId: string,
    serverId: string,
    reason: "SERVER_FAILED" | "SERVER_DELETED",
    message: string,
  ): Promise<SessionRecord | undefined> {
    return this.ender.serverEnded(sessionId, serverId, reason, message);
  }

  /** See SessionActivity.keepAlive. */
  keepAlive(id: string): Promise<SessionRecord> {
    return this.activity.keepAlive(id);
  }

  /** See SessionActivity.connectionChanged. */
  connectionChanged(
    sessionId: string,
    type: "CONNECTED" | "DISCONNECTED",
    connectionCount: number,
    eventTime: Date,
  ): Promise<{ session: SessionRecord; applied: boolean }> {
    return this.activity.connectionChanged(sessionId, type, connectionCount, eventTime);
  }

  /** See SessionActivity.loginRefused. */
  loginRefused(
    ...args: Parameters<SessionActivity["loginRefused"]>
  ): ReturnType<SessionActivity["loginRefused"]> {
    return this.activity.loginRefused(...args);
  }

  /** See SessionReader.findByServer. */
  findByServer(serverId: string): Promise<SessionRecord | undefined> {
    return this.repository.findByServer(serverId);
  }

  /** See SessionTicks.timersTick. */
  timersTick(signal?: AbortSignal): Promise<number> {
    return this.ticks.timersTick(signal);
  }

  /** See SessionTicks.repairTick. */
  repairTick(): Promise<void> {
    return this.ticks.repairTick();
  }

  /** See SessionTicks.relayTick. */
  relayTick(signal?: AbortSignal): Promise<number> {
    return this.ticks.relayTick(signal);
  }
}
