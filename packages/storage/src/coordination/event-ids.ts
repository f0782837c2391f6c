/**
 * Event ids and cursors, shared by the Redis and the memory bus: `<ms>-<seq>` exactly as Redis
 * Streams issue them, compared numerically.
 */
import { CursorOutOfRangeError, InvalidCursorError, InvalidEventTypeError } from "./errors.js";
import { EVENT_FAMILIES, type EventFamily } from "./ports.js";

/** A parsed event id. */
export interface EventId {
  readonly ms: bigint;
  readonly seq: bigint;
}

/** The id before every event: resuming after it replays the whole history (if none was trimmed). */
export const ZERO_EVENT_ID = "0-0";

const MAX_PART = 2n ** 64n - 1n;
const ID_PATTERN = /^(\d{1,20})-(\d{1,20})$/;

/** Parses an id; `undefined` when it is not `<ms>-<seq>` with both parts in 0..2^64-1. */
export function parseEventId(id: string): EventId | undefined {
  const m = ID_PATTERN.exec(id);
  if (!m) return undefined;
  const ms = BigInt(m[1]!);
  const seq = BigInt(m[2]!);
  if (ms > MAX_PART || seq > MAX_PART) return undefined;
  return { ms, seq };
}

/** Parses a caller's cursor; throws `InvalidCursorError` when malformed. */
export function parseCursor(family: EventFamily, cursor: string): EventId {
  const id = parseEventId(cursor);
  if (!id) throw new InvalidCursorError(family, cursor);
  return id;
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareEventIds(a: EventId, b: EventId): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

export function formatEventId(id: EventId): string {
  return `${id.ms}-${id.seq}`;
}

/** The family of an event type ("session.created" -> "session"); throws `InvalidEventTypeError`. */
export function familyOf(type: string): EventFamily {
  const dot = type.indexOf(".");
  const family = dot > 0 ? type.slice(0, dot) : "";
  const known = EVENT_FAMILIES.find((f) => f === family);
  if (!known || dot === type.length - 1) throw new InvalidEventTypeError(type);
  return known;
}

/** Checks a family given by a caller (JavaScript callers can pass anything). */
export function assertFamily(family: string): asserts family is EventFamily {
  if (!EVENT_FAMILIES.some((f) => f === family)) {
    throw new RangeError(`unknown event family ${JSON.stringify(family)}`);
  }
}

/** What a cursor is checked against: the stream's newest issued id, oldest retained id, trimming. */
export interface StreamRange {
  /** The last id the stream issued (`0-0` when it never had an event). */
  readonly last: EventId;
  /** The oldest retained event, `undefined` when the stream is empty. */
  readonly first: EventId | undefined;
  /** True once any event was trimmed away. */
  readonly trimmed: boolean;
}

/**
 * Parses a cursor and checks that resuming after it loses nothing. Out of range: it is after the
 * last issued id (never issued), or events were trimmed and it is before the oldest retained one.
 * The second rule is conservative by one event: a cursor equal to the very last trimmed event is
 * also rejected, because Redis does not record which ids its trimming removed.
 */
export function checkCursor(family: EventFamily, cursor: string, range: StreamRange): EventId {
  const id = parseCursor(family, cursor);
  if (compareEventIds(id, range.last) > 0) throw new CursorOutOfRangeError(family, cursor);
  // An empty stream that was trimmed retains nothing older than its last id.
  const oldest = range.first ?? range.last;
  if (range.trimmed && compareEventIds(id, oldest) < 0) {
    throw new CursorOutOfRangeError(family, cursor);
  }
  return id;
}
