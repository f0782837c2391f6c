/**
 * Checks of the arguments callers pass to the coordination ports, shared by both adapters so that
 * they reject the same inputs. A bad argument is a programming error: `RangeError`.
 */

/** A lease time-to-live: a positive integer of milliseconds. */
export function assertTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
  }
}

/** A TCP port: 1..65535. */
export function assertPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RangeError(`port must be an integer in 1..65535, got ${port}`);
  }
}

/** A non-negative integer (counter values and limits). */
export function assertNonNegative(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
}

/** A positive integer (page sizes, stream lengths). */
export function assertPositive(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
}

/** A non-empty name or id. */
export function assertName(what: string, value: string): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new RangeError(`${what} must be a non-empty string`);
  }
}
