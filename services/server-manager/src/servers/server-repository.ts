/**
 * The one place server records change: every change is a `Repository.modify` (read, check, write
 * with the version, retry on conflict) whose events are stored in the record's outbox by the same
 * write, then published and audited by the writer, or by the leader's relay (`relayOnce`) when the
 * writer died first. Each change of state is checked against the life cycle
 * (domain/server-state.ts) and announced as "server.state_changed" with data
 * `{ server, previousState }` and an audit record `server.<state>`; an insert as "server.created"
 * with audit `server.create`. WatchServers and session-controller's server follower read these.
 */

import type { Clock } from "@lucid-rdp/runtime";
import {
  type AuditDraft,
  type AuditEventStore,
  type CallOptions,
  type Changes,
  type EventBus,
  type EventDraft,
  type NewRecord,
  Repository,
} from "@lucid-rdp/storage";
import type { ServerState } from "../domain/server-state.js";
import { nextState } from "../domain/server-state.js";
import type { ServerRecord } from "../store/records.js";
import type { ServerStore } from "../store/stores.js";
import { ServerReader } from "./server-reader.js";

/** Who asked for a change, as the audit log records it. */
export interface Actor {
  readonly subject: string;
  readonly roles: readonly string[];
}

export const systemActor: Actor = { subject: "server-manager", roles: ["service"] };

export interface ServerRepositoryOptions {
  readonly servers: ServerStore;
  readonly bus: EventBus;
  readonly audit: AuditEventStore;
  readonly logger: { warn(obj: object, msg: string): void };
  /** The wall clock that stamps records. @default systemClock */
  readonly clock?: Clock;
}

export interface TransitionOptions extends CallOptions {
  /** Change only from these states; from any other the record is returned unchanged. @default any */
  readonly from?: readonly ServerState[];
  /** The record as the caller just wrote or read it (see ModifyOptions.current). @default read first */
  readonly current?: ServerRecord;
}

/** The repository of server records: their reads (ServerReader), and every change of them. */
export class ServerRepository extends ServerReader {
  private readonly repo: Repository<ServerRecord>;

  constructor(opts: ServerRepositoryOptions) {
    super(opts.servers);
    this.repo = new Repository({
      collection: opts.servers,
      bus: opts.bus,
      audit: opts.audit,
      logger: opts.logger,
      now: opts.clock,
    });
  }

  /** Stores a new server and announces it. @throws AlreadyExistsError (key "id" or "node_port") */
  insert(record: NewRecord<ServerRecord>, actor: Actor, opts?: CallOptions): Promise<ServerRecord> {
    return this.repo.insert(
      record,
      [
        {
          type: "server.created",
          data: (server) => ({ server }),
          audit: (server) => audit(actor, "server.create", server, undefined),
        },
      ],
      opts,
    );
  }

  /** Deletes a record no one was told of yet beyond its created event (a create that gave up). */
  delete(id: string, opts?: CallOptions): Promise<void> {
    return this.repo.collection.delete(id, undefined, opts);
  }

  /**
   * Moves a server to `to` with `changes`, checked against the life cycle, announced and audited
   * in the same write. Already in `to`, or (with `from`) in a state not listed: unchanged.
   * @throws IllegalTransitionError, NotFoundError
   */
  async transition(
    id: string,
    to: ServerState,
    actor: Actor,
    changes: Changes<ServerRecord> = {},
    opts: TransitionOptions = {},
  ): Promise<ServerRecord> {
    const { record } = await this.repo.modify(
      id,
      (current) => {
        if (current.state === to) return undefined;
        if (opts.from !== undefined && !opts.from.includes(current.state)) return undefined;
        const state = nextState(id, current.state, to);
        const previousState = current.state;
        const event: EventDraft<ServerRecord> = {
          type: "server.state_changed",
          data: (server) => ({ server, previousState }),
          audit: (server) => audit(actor, `server.${to.toLowerCase()}`, server, previousState),
        };
        return { changes: { ...changes, state }, events: [event] };
      },
      opts,
    );
    return record;
  }

  /** Changes fields other than the state; announces nothing. */
  async update(
    id: string,
    changes: Changes<ServerRecord>,
    opts?: CallOptions,
  ): Promise<ServerRecord> {
    return (await this.repo.modify(id, () => ({ changes }), opts)).record;
  }

  /** One round of the outbox relay (run by the leader): see Repository.relayOnce. */
  relayOnce(olderThanMs: number, opts?: CallOptions): Promise<number> {
    return this.repo.relayOnce(olderThanMs, opts);
  }
}

function audit(
  actor: Actor,
  action: string,
  server: Pick<ServerRecord, "id" | "requestId" | "state" | "stateReason" | "nodeId" | "port">,
  previousState: ServerState | undefined,
): AuditDraft {
  return {
    actorSubject: actor.subject,
    actorRoles: [...actor.roles],
    action,
    resourceType: "server",
    resourceId: server.id,
    requestId: server.requestId,
    details: {
      state: server.state,
      ...(previousState ? { previous_state: previousState } : {}),
      ...(server.stateReason ? { reason: server.stateReason } : {}),
      node: server.nodeId,
      port: String(server.port),
    },
  };
}
