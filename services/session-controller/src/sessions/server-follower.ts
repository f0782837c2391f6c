/**
 * Ends sessions whose server ended. A session stands on its server from READY to DISCONNECTED;
 * once that server is FAILED (a crash loop, an instance that vanished, a lost node), STOPPED by
 * someone else, or no longer known to server-manager, the session is FAILED with
 * SERVER_FAILED or SERVER_DELETED through `Sessions.serverEnded` (event, audit, caps, connected
 * time as any other end). Only those terminal states end a session: a server PROVISIONING,
 * READY (its instance perhaps RESTARTING after a crash), DRAINING or STOPPING does not.
 *
 * Two paths, both run by the timer leader and both idempotent:
 * - `follow`: server-manager's WatchServers, resumed from the last event id after a broken stream
 *   (reconnecting with jittered backoff); a cursor out of range, or none yet, is taken again from
 *   ListServers, followed by a `reconcile`, so nothing between is missed.
 * - `reconcile`: the safety net, every `serverReconcileIntervalMs`: the READY, ACTIVE and
 *   DISCONNECTED sessions with a server, against ListServers of the live servers; for a server not
 *   listed, GetServer says whether it is FAILED, STOPPED or gone (NOT_FOUND) or only new.
 *
 * The other direction, in the same reconcile: a live server made for a session (its session_id)
 * whose session is gone, has ended, or stands on another server is an orphan, deleted (force).
 * Orphans come from crashes and cut calls: a CreateServer whose answer never arrived for a session
 * that then failed, a session ended while its server was still being made. A session is always
 * stored before CreateServer is called, so a server never waits for a session still to come.
 * Servers made directly through CreateServer (no session_id) are not session-controller's.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@lucid-rdp/runtime";
import type { ServerManagerClient } from "../clients/server-manager.js";
import type { ManagedServer } from "../domain/managed-server.js";
import { ServerManagerCallError } from "../domain/server-manager-call-error.js";
import { isTerminal } from "../domain/session-state.js";
import { serverBoundStates } from "../domain/session-values.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionStore } from "../store/stores.js";
import type { Sessions } from "./sessions.js";

/** How often the leader runs `reconcile`, in ms. */
export const serverReconcileIntervalMs = 10_000;

/** Deadline of each unary call to server-manager, in ms. */
const callTimeoutMs = 5_000;
/** Codes of a WatchServers refusal of its cursor (too old, or not one): list and sweep again. */
const cursorRefused = new Set(["OutOfRange", "InvalidArgument"]);
/** Sessions read per page, and server ids per ListServers page. */
const pageSize = 500;

export interface ServerFollowerOptions {
  readonly store: SessionStore;
  readonly sessions: Sessions;
  readonly serverManager: ServerManagerClient;
  readonly logger: Logger;
  /**
   * First wait before reconnecting a broken watch, in ms; doubled per failure, with jitter.
   * @default 500
   */
  readonly retryMinMs?: number;
  /** Longest wait before reconnecting a broken watch, in ms. @default 10000 */
  readonly retryMaxMs?: number;
}

/** What the follower reads of a server. */
type ServerView = Pick<ManagedServer, "id" | "state" | "stateReason" | "stateMessage">;

/** The session-ending verdict on a server state: undefined while the server may still serve. */
function endOf(
  server: ServerView,
): { reason: "SERVER_FAILED" | "SERVER_DELETED"; message: string } | undefined {
  const why = server.stateMessage ? `: ${server.stateMessage}` : "";
  const cause = server.stateReason === undefined ? "" : ` (${server.stateReason})`;
  if (server.state === "FAILED") {
    return { reason: "SERVER_FAILED", message: `server ${server.id} failed${cause}${why}` };
  }
  if (server.state === "STOPPED") {
    return { reason: "SERVER_DELETED", message: `server ${server.id} was stopped${cause}${why}` };
  }
  return undefined;
}

export class ServerFollower {
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly opts: ServerFollowerOptions) {
    this.retryMinMs = opts.retryMinMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 10_000;
  }

  /**
   * Follows WatchServers until `signal` aborts, ending sessions whose server ended. Never throws:
   * failures are logged and the stream is opened again, from the last event applied.
   */
  async follow(signal: AbortSignal): Promise<void> {
    const sm = this.opts.serverManager;
    let cursor: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (cursor === undefined) {
          // The cursor first, then the sweep: a change after the cursor comes as an event, one
          // before it is found by the sweep.
          const list = await sm.listServers({ pageSize: 1 }, { signal, timeoutMs: callTimeoutMs });
          const next = list.lastEventId;
          await this.reconcile(signal);
          cursor = next;
        }
        // No deadline: the stream lasts as long as the leadership (`signal`).
        for await (const ev of sm.watchServers(cursor, { signal, timeoutMs: 0 })) {
          failures = 0;
          // A failure here throws before the cursor moves: the event comes again on resume.
          if (ev.type === "STATE_CHANGED" && ev.server) await this.applied(ev.server);
          cursor = ev.eventId;
        }
        if (signal.aborted) return;
        throw new ServerManagerCallError(
          "WatchServers",
          "Unavailable",
          "WatchServers ended",
          false,
        );
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ServerManagerCallError && cursorRefused.has(err.code))
          cursor = undefined;
        failures++;
        const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** (failures - 1));
        this.opts.logger.warn(
          { err, failures, retryInMs: delay, resumeAfter: cursor ?? "a new list" },
          "server events not followed: reconnecting (the reconcile still runs)",
        );
        await sleep(delay / 2 + Math.random() * (delay / 2), undefined, { signal }).catch(
          () => undefined,
        );
      }
    }
  }

  /** Ends the session standing on `server` if the server ended. Returns whether one was ended. */
  private async applied(server: ServerView, session?: SessionRecord): Promise<boolean> {
    const end = endOf(server);
    if (end === undefined) return false;
    const s = session ?? (await this.opts.sessions.findByServer(server.id));
    if (s === undefined) return false;
    const ended = await this.opts.sessions.serverEnded(s.id, server.id, end.reason, end.message);
    if (ended === undefined) return false;
    this.opts.logger.warn(
      { session: s.id, server: server.id, reason: end.reason, previousState: s.state },
      "session ended: its server ended",
    );
    return true;
  }

  /**
   * One safety-net pass: every READY, ACTIVE or DISCONNECTED session with a server, against
   * server-manager. Returns how many sessions it ended. Throws when server-manager or the store
   * fails (sessions are ended only on an answer: FAILED, STOPPED or NOT_FOUND).
   */
  async reconcile(signal?: AbortSignal): Promise<number> {
    const sessions: SessionRecord[] = [];
    let pageToken = "";
    do {
      const page = await this.opts.store.list({
        where: { state: { in: [...serverBoundStates] }, serverId: { exists: true } },
        pageSize,
        pageToken,
        signal,
      });
      sessions.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");

    // The live servers in one paged list (no usage lookups, unlike GetServer of a READY one).
    const live = new Map<string, ManagedServer>();
    pageToken = "";
    do {
      const page = await this.opts.serverManager.listServers(
        {
          states: ["PROVISIONING", "READY", "DRAINING", "STOPPING"],
          pageSize: 1000,
          pageToken,
        },
        { signal, timeoutMs: callTimeoutMs },
      );
      for (const s of page.servers) live.set(s.id, s);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");

    let ended = 0;
    for (const s of sessions) {
      const serverId = s.serverId;
      if (serverId === undefined || live.has(serverId)) continue;
      // Not listed live: ended, gone, or created after the list was read. Ask.
      let server: ServerView;
      try {
        const found = await this.opts.serverManager.getServer(serverId, {
          signal,
          timeoutMs: callTimeoutMs,
        });
        if (found === undefined) continue;
        server = found;
      } catch (e) {
        if (!(e instanceof ServerManagerCallError && e.notFound)) throw e;
        server = {
          id: serverId,
          state: "STOPPED",
          stateReason: undefined,
          stateMessage: "server-manager no longer knows it",
        };
      }
      if (await this.applied(server, s)) ended++;
    }
    await this.deleteOrphans([...live.values()], signal);
    return ended;
  }

  /** Deletes the live servers whose session is gone, ended, or on another server. Returns them. */
  async deleteOrphans(servers: readonly ManagedServer[], signal?: AbortSignal): Promise<string[]> {
    const deleted: string[] = [];
    for (const server of servers) {
      if (server.sessionId === "" || server.state === "STOPPING") continue;
      const session = await this.opts.sessions.repository.find(server.sessionId, { signal });
      const why =
        session === undefined
          ? "its session does not exist"
          : isTerminal(session.state)
            ? `its session is ${session.state}`
            : session.serverId !== undefined && session.serverId !== server.id
              ? `its session stands on server ${session.serverId}`
              : undefined;
      if (why === undefined) continue;
      try {
        await this.opts.serverManager.deleteServer(
          server.id,
          { force: true },
          { signal, timeoutMs: callTimeoutMs },
        );
        deleted.push(server.id);
        this.opts.logger.warn(
          { server: server.id, session: server.sessionId, why },
          "orphaned server deleted",
        );
      } catch (e) {
        if (e instanceof ServerManagerCallError && e.notFound) continue;
        this.opts.logger.warn(
          { err: e, server: server.id },
          "orphaned server not deleted: retried",
        );
      }
    }
    return deleted;
  }
}
