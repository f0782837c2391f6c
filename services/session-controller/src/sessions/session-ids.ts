/** The ids session-controller derives from request ids, so that a retry finds the first result. */
import { createHash } from "node:crypto";

/** A UUID (version 4 layout) that follows from `seed`: the same seed, the same id. */
export function uuidFrom(seed: string): string {
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
