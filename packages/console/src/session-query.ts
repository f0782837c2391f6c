/**
 * Pure: the sessions panel's search, filters and paging over the sessions it holds live.
 *
 * The panel holds every session (listed once, then followed with WatchSessions), so filtering
 * and paging here keep each page live without re-querying; the filters are the same as
 * ListSessions' typed ones (user, states) plus the node and a free-text search.
 */
import { type Session, SessionState } from "@lucid-rdp/gen";
import { dateOf } from "./format.js";
import { isEnded } from "./selectors.js";

/** What the sessions panel shows: each field narrows the list; "" or [] matches all. */
export interface SessionQuery {
  /** Matches the start of the session id or any part of the user, case-insensitive. */
  readonly search: string;
  /** Only sessions in one of these states. */
  readonly states: readonly SessionState[];
  /** Only sessions of exactly this user. */
  readonly user: string;
  /** Only sessions placed on this node. */
  readonly node: string;
  /** The page to show, 0-based. */
  readonly page: number;
}

/** The query of a fresh page: everything, first page. */
export const emptyQuery: SessionQuery = { search: "", states: [], user: "", node: "", page: 0 };

/** Rows per page of the sessions table. */
export const sessionPageSize = 20;

/** Whether `s` passes every filter of `q` (the page aside). */
export function matchesQuery(s: Session, q: SessionQuery): boolean {
  const term = q.search.trim().toLowerCase();
  if (term !== "" && !s.id.startsWith(term) && !s.user.toLowerCase().includes(term)) return false;
  if (q.states.length > 0 && !q.states.includes(s.state)) return false;
  if (q.user !== "" && s.user !== q.user) return false;
  if (q.node !== "" && s.nodeId !== q.node) return false;
  return true;
}

/** One page of a filtered list: its rows, which page it is, how many there are, the total. */
export interface Page<T> {
  readonly items: T[];
  readonly page: number;
  readonly pages: number;
  readonly total: number;
}

/** Page `page` of `items` (clamped to the last page; at least one page, maybe empty). */
export function pageOf<T>(items: readonly T[], page: number, size: number): Page<T> {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const p = Math.min(Math.max(0, Math.floor(page)), pages - 1);
  return { items: items.slice(p * size, (p + 1) * size), page: p, pages, total: items.length };
}

const createdMs = (s: Session) => dateOf(s.createTime)?.getTime() ?? 0;

/** The sessions matching `q`, those not ended first, newest first in each; cut to the query's page. */
export function querySessions(
  sessions: Iterable<Session>,
  q: SessionQuery,
  size: number = sessionPageSize,
): Page<Session> {
  const all = [...sessions].filter((s) => matchesQuery(s, q));
  all.sort((a, b) => Number(isEnded(a)) - Number(isEnded(b)) || createdMs(b) - createdMs(a));
  return pageOf(all, q.page, size);
}

/** The distinct values of `key` among `sessions`, sorted, empty ones left out (filter choices). */
export function choices(sessions: Iterable<Session>, key: "user" | "nodeId"): string[] {
  return [...new Set([...sessions].map((s) => s[key]).filter((v) => v !== ""))].sort();
}

/** The states the state filter offers, in lifecycle order. */
export const filterStates: readonly SessionState[] = [
  SessionState.PENDING,
  SessionState.PROVISIONING,
  SessionState.READY,
  SessionState.ACTIVE,
  SessionState.DISCONNECTED,
  SessionState.TERMINATING,
  SessionState.TERMINATED,
  SessionState.FAILED,
];
