/** The ids session-controller derives from request ids, so that a retry finds the first result. */
import { stableUuid } from "@lucid-rdp/runtime";

/** The request id of a session's CreateServer: stable, so a retry never makes a second server. */
export function serverRequestId(sessionId: string): string {
  return stableUuid(`create-server:${sessionId}`);
}

/**
 * The id of the session CreateSession makes for `requestId`. The session record is the request
 * id's only record: storing it is the create, and a second insert with the same id (a retry, a
 * concurrent duplicate, a retry after any crash) finds the first, so one request id never makes
 * two sessions.
 */
export function sessionIdFor(requestId: string): string {
  return stableUuid(`create-session:${requestId}`);
}
