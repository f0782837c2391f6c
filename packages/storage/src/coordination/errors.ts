/**
 * Errors of the coordination layer (leases, event bus). Plain classes carrying the ids involved; the
 * services' edge maps them to Connect codes. Connection failures are `BackendUnavailableError` from
 * ../errors.ts.
 */

/**
 * Thrown when a lease's holder lost it: the lease expired and was taken by someone else (a larger
 * fence was issued), or it was released. Work done under that lease must stop.
 */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  constructor(
    readonly leaseName: string,
    readonly fence: number,
  ) {
    super(`lease ${leaseName} (fence ${fence}) is no longer held`);
  }
}

/**
 * Thrown when a stream cursor cannot be resumed from: events after it were already trimmed (it is
 * older than the retained history), or it was never issued (it is greater than the last event id).
 * The caller starts over from a fresh listing. Maps to OUT_OF_RANGE.
 */
export class CursorOutOfRangeError extends Error {
  override readonly name = "CursorOutOfRangeError";
  constructor(
    readonly family: string,
    readonly cursor: string,
  ) {
    super(`cursor ${cursor} is out of the retained range of the ${family} events`);
  }
}

/** Thrown when a stream cursor is not an event id (`<ms>-<seq>`). Maps to INVALID_ARGUMENT. */
export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
  constructor(
    readonly family: string,
    readonly cursor: string,
  ) {
    super(`cursor ${JSON.stringify(cursor)} is not a valid ${family} event id`);
  }
}

/**
 * Thrown when an event is published with a type that does not start with a known family and a dot
 * (`session.`, `server.`, `instance.`, `alert.`). A programming error; maps to INTERNAL.
 */
export class InvalidEventTypeError extends Error {
  override readonly name = "InvalidEventTypeError";
  constructor(readonly type: string) {
    super(`event type ${JSON.stringify(type)} does not start with a known family`);
  }
}
