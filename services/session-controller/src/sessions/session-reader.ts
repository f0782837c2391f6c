/**
 * The reads of session records, in domain terms: one session, a filtered page of them, the live
 * session on a server. The SessionRepository (every write) is one; the handler reads through it.
 */
import type { CallOptions, ListOptions, Page } from "@lucid-rdp/storage";
import { liveSessionStates, type SessionState } from "../domain/session-values.js";
import type { SessionRecord } from "../store/records.js";
import type { SessionStore } from "../store/stores.js";

/** The filters of ListSessions; an unset (or empty) field does not filter. */
export interface SessionFilter {
  /** Sessions in one of these states. */
  readonly states?: readonly SessionState[];
  readonly user?: string;
  readonly serverId?: string;
}

/** Which page to read: its size and the previous page's token. */
export type PageRequest = Omit<ListOptions<SessionRecord>, "where">;

/** Reads session records; never writes. */
export class SessionReader {
  constructor(protected readonly store: SessionStore) {}

  /** The session. @throws NotFoundError */
  get(id: string, opts?: CallOptions): Promise<SessionRecord> {
    return this.store.get(id, opts);
  }

  /** The session, or undefined. */
  find(id: string, opts?: CallOptions): Promise<SessionRecord | undefined> {
    return this.store.find(id, opts);
  }

  /** One page of the sessions matching `filter`, newest first. @throws InvalidPageTokenError */
  list(filter: SessionFilter, page: PageRequest = {}): Promise<Page<SessionRecord>> {
    const states = filter.states ?? [];
    return this.store.list({
      where: {
        ...(states.length > 0 ? { state: { in: states } } : {}),
        ...(filter.user ? { user: filter.user } : {}),
        ...(filter.serverId ? { serverId: filter.serverId } : {}),
      },
      ...page,
    });
  }

  /** The live session on a server, if any. */
  findByServer(serverId: string, opts?: CallOptions): Promise<SessionRecord | undefined> {
    return this.store.findOne({ serverId, state: { in: [...liveSessionStates] } }, opts);
  }
}
