/**
 * Gets sessions their servers through server-manager: PENDING, PROVISIONING, then READY or
 * FAILED. An answer that never came leaves the session PROVISIONING for the next attempt.
 */
import type { Clock, Logger } from "@lucid-rdp/runtime";
import type { ServerManagerClient } from "../clients/server-manager.js";
import { systemActor } from "../domain/actor.js";
import type { ManagedServer } from "../domain/managed-server.js";
import { ServerManagerCallError } from "../domain/server-manager-call-error.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionEnder } from "./session-ender.js";
import { serverRequestId } from "./session-ids.js";
import type { SessionRepository } from "./session-repository.js";

/** What a provisioning attempt came to. */
export type ProvisionOutcome =
  /**
   * The session moved on (READY, FAILED) or was not provisioning: nothing more to do here. With
   * `session`, the record as this attempt stored it last (CreateSession answers from it).
   */
  | { readonly kind: "settled"; readonly session?: SessionRecord }
  /**
   * server-manager did not answer (unavailable, cut, timed out): the session stays PROVISIONING
   * and the attempt is repeated; CreateServer is idempotent by the session's request id.
   */
  | { readonly kind: "uncertain"; readonly reason: string };

/** The message of anything thrown. */
function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What the provisioner needs. */
export interface ProvisionerOptions {
  readonly writer: SessionRepository;
  readonly ender: SessionEnder;
  readonly serverManager?: ServerManagerClient;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** Provisions sessions, at most one attempt per session at a time in this replica. */
export class Provisioner {
  /** Sessions this replica is provisioning now, and the attempt's outcome. */
  private readonly provisioning = new Map<string, Promise<ProvisionOutcome>>();

  constructor(private readonly opts: ProvisionerOptions) {}

  /**
   * Provisions the session unless this replica already does: the running attempt's outcome. Any
   * replica may run one at the same time (CreateServer is idempotent by the session's request id,
   * and every write is versioned). `current`: the session as the caller just stored it, written on
   * without reading it again (a stale copy costs a re-read).
   */
  ensure(id: string, current?: SessionRecord): Promise<ProvisionOutcome> {
    const running = this.provisioning.get(id);
    if (running !== undefined) return running;
    const attempt = this.provision(id, current)
      .catch((e: unknown): ProvisionOutcome => {
        this.opts.logger.warn({ err: e, session: id }, "provisioning failed: retried");
        return { kind: "uncertain", reason: messageOf(e) };
      })
      .finally(() => this.provisioning.delete(id));
    this.provisioning.set(id, attempt);
    return attempt;
  }

  /**
   * Gets the session a server through server-manager: PROVISIONING, then READY or FAILED. A
   * definite refusal (ServerManagerCallError.definite) fails the session; an answer that never
   * came, or any other failure, leaves it PROVISIONING for the next attempt, with the reason in its
   * state message.
   */
  async provision(id: string, current?: SessionRecord): Promise<ProvisionOutcome> {
    const sm = this.opts.serverManager;
    if (sm === undefined) return { kind: "settled" };
    const { writer } = this.opts;
    const ask = (owner: string) =>
      sm.createServerForSession(
        { requestId: serverRequestId(id), owner, sessionId: id, waitTimeoutMs: 60_000 },
        { timeoutMs: 90_000 },
      );
    // A session this replica has just stored PENDING gets its server asked for while PROVISIONING
    // is being written, not after: the session is stored before CreateServer is called either way,
    // CreateServer is idempotent by the session's request id, a PENDING session is resumed by the
    // repair tick after a crash, and a server whose session ended meanwhile is an orphan the
    // server follower deletes. READY is still written only after PROVISIONING.
    const early = current?.state === "PENDING" ? ask(current.user) : undefined;
    early?.catch(() => undefined); // awaited below; handled here if the write below throws first
    // One read-and-write: a session found in another state than PENDING is returned as it is.
    const s = await writer.transition(
      id,
      "PROVISIONING",
      systemActor,
      {},
      { from: ["PENDING"], current },
    );
    if (s.state !== "PROVISIONING") return { kind: "settled" };
    try {
      const server = await (early ?? ask(s.user));
      return { kind: "settled", session: await this.applyServer(s, server) };
    } catch (e) {
      const failure = e instanceof ServerManagerCallError ? e : undefined;
      if (failure?.definite) {
        await this.opts.ender.fail(
          id,
          "PROVISIONING_FAILED",
          `no server: ${failure.detail}`,
          systemActor,
        );
        return { kind: "settled" };
      }
      const code = failure?.code ?? "Unknown";
      const reason = failure?.detail ?? messageOf(e);
      const message = `waiting for a server: server-manager did not answer (${code}): ${reason}`;
      await writer
        .apply(id, { stateMessage: message }, { from: ["PROVISIONING"] })
        .catch(() => undefined);
      return { kind: "uncertain", reason };
    }
  }

  /** Moves a PROVISIONING session on from its server's state: the record as stored. */
  private async applyServer(
    s: SessionRecord,
    server: ManagedServer | undefined,
  ): Promise<SessionRecord | undefined> {
    const id = s.id;
    if (server === undefined) return undefined;
    if (server.state === "READY" && server.endpoint) {
      return this.opts.writer.transition(
        id,
        "READY",
        systemActor,
        {
          serverId: server.id,
          nodeId: server.nodeId,
          host: server.endpoint.host,
          port: server.endpoint.port,
          ...(server.routingToken !== undefined ? { routingToken: server.routingToken } : {}),
          readyTime: this.opts.clock(),
        },
        // The session as this attempt stored it PROVISIONING: written on without a read.
        { current: s },
      );
    }
    if (server.state === "FAILED" || server.state === "STOPPED") {
      await this.opts.ender.fail(
        id,
        "PROVISIONING_FAILED",
        server.stateMessage || "the server failed",
        systemActor,
      );
      return undefined;
    }
    return this.opts.writer.apply(id, { serverId: server.id, nodeId: server.nodeId });
  }
}
