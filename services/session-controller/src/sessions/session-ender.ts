/**
 * How sessions end: TerminateSession and the timers (TERMINATING, the server deleted, TERMINATED),
 * a failure (FAILED, the server deleted), and the end of a session's server (FAILED).
 */
import type { Clock, Logger } from "@lucid-rdp/runtime";
import type { ServerManagerClient } from "../clients/server-manager.js";
import { type Actor, systemActor } from "../domain/actor.js";
import { ServerManagerCallError } from "../domain/server-manager-call-error.js";
import { isTerminal } from "../domain/session-state.js";
import { type SessionStateReason, serverBoundStates } from "../domain/session-values.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionRepository } from "./session-repository.js";

/** What the ender needs. */
export interface SessionEnderOptions {
  readonly writer: SessionRepository;
  readonly serverManager?: ServerManagerClient;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** Ends sessions, deleting their servers where they still run. */
export class SessionEnder {
  constructor(private readonly opts: SessionEnderOptions) {}

  /** Ends a session: TERMINATING, its server deleted, TERMINATED. Idempotent. */
  async terminate(
    id: string,
    reason: SessionStateReason,
    message: string,
    actor: Actor,
  ): Promise<SessionRecord> {
    const s = await this.opts.writer.get(id);
    if (s.state === "TERMINATING" || isTerminal(s.state)) return s;
    const terminating = await this.opts.writer.transition(id, "TERMINATING", actor, {
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
    const s = await this.opts.writer.get(id);
    if (s.state !== "TERMINATING") return;
    const sm = this.opts.serverManager;
    if (s.serverId && sm) {
      try {
        const server = await sm.deleteServer(s.serverId, { force: true });
        const state = server?.state;
        if (state !== "STOPPED" && state !== "FAILED") {
          const again = await sm.getServer(s.serverId);
          const now = again?.state;
          if (now !== "STOPPED" && now !== "FAILED") return;
        }
      } catch (e) {
        if (!(e instanceof ServerManagerCallError && e.notFound)) throw e;
      }
    }
    await this.opts.writer.transition(id, "TERMINATED", systemActor, {
      endTime: this.opts.clock(),
    });
  }

  /** Fails a session that has not ended (FAILED with `reason`) and deletes its server, if any. */
  async fail(id: string, reason: SessionStateReason, message: string, actor: Actor): Promise<void> {
    const s = await this.opts.writer.find(id);
    if (s === undefined || isTerminal(s.state)) return;
    await this.opts.writer.transition(id, "FAILED", actor, {
      stateReason: reason,
      stateMessage: message,
      endTime: this.opts.clock(),
    });
    if (s.serverId && this.opts.serverManager) {
      await this.opts.serverManager
        .deleteServer(s.serverId, { force: true })
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
    const s = await this.opts.writer.find(sessionId);
    if (s === undefined || s.serverId !== serverId || !serverBoundStates.includes(s.state)) {
      return undefined;
    }
    const next = await this.opts.writer.transition(
      sessionId,
      "FAILED",
      systemActor,
      { stateReason: reason, stateMessage: message, endTime: this.opts.clock() },
      { from: serverBoundStates },
    );
    return next.state === "FAILED" && next.stateReason === reason ? next : undefined;
  }
}
