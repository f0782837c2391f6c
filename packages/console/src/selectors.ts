/**
 * Pure rules for what each live panel shows and in which order, over the records it holds.
 */
import {
  type Alert,
  AlertState,
  type Server,
  ServerState,
  type Session,
  SessionState,
} from "@lucid-rdp/gen";
import { dateOf } from "./format.js";

const createdMs = (r: Session | Server) => dateOf(r.createTime)?.getTime() ?? 0;
const updatedMs = (r: Session | Alert) => dateOf(r.updateTime)?.getTime() ?? 0;

/** Whether a session has ended (TERMINATED or FAILED). */
export const isEnded = (s: Session) =>
  s.state === SessionState.TERMINATED || s.state === SessionState.FAILED;

/** Whether a session is live: its desktop runs and can be used (READY, ACTIVE, DISCONNECTED). */
export const isLive = (s: Session) =>
  s.state === SessionState.READY ||
  s.state === SessionState.ACTIVE ||
  s.state === SessionState.DISCONNECTED;

/**
 * Whether `next` may replace `known`: watches and RPC answers can cross, so whichever saw the
 * later update wins (a tie goes to `next`).
 */
export const supersedes = (known: Session | undefined, next: Session) =>
  !(known && updatedMs(known) > updatedMs(next));

/** Servers that are not STOPPED, newest first. */
export function visibleServers(servers: Iterable<Server>): Server[] {
  return [...servers]
    .filter((s) => s.state !== ServerState.STOPPED)
    .sort((a, b) => createdMs(b) - createdMs(a));
}

const rank = (a: Alert) =>
  a.state === AlertState.FIRING ? 0 : a.state === AlertState.PENDING ? 1 : 2;

/**
 * At most 20 alerts: FIRING, then PENDING, then the rest, a silenced one after the unsilenced
 * of its state; most recently updated first in each.
 */
export function visibleAlerts(alerts: Iterable<Alert>, now: number = Date.now()): Alert[] {
  const key = (a: Alert) => rank(a) * 2 + (isSilenced(a, now) ? 1 : 0);
  return [...alerts].sort((a, b) => key(a) - key(b) || updatedMs(b) - updatedMs(a)).slice(0, 20);
}

/** Whether an alert is silenced at `now` (its silenced_until lies ahead). */
export const isSilenced = (a: Alert, now: number = Date.now()) =>
  Boolean(a.silencedUntil && (dateOf(a.silencedUntil)?.getTime() ?? 0) > now);

/**
 * What an alert's badge says: SILENCED (with the time it lasts until) while a silence holds,
 * else its state. Tones as in tones.ts; a silenced alert is "idle".
 */
export function alertStatus(
  a: Alert,
  now: number = Date.now(),
): { text: string; tone: "silenced" | "state"; until?: Date } {
  if (isSilenced(a, now))
    return { text: "SILENCED", tone: "silenced", until: dateOf(a.silencedUntil) };
  return { text: AlertState[a.state] ?? "?", tone: "state" };
}
