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

/** A port range: two ports, `start` <= `end`. */
export function assertPortRange(range: { start: number; end: number }): void {
  assertPort(range.start);
  assertPort(range.end);
  if (range.start > range.end) {
    throw new RangeError(`port range start ${range.start} is after its end ${range.end}`);
  }
}

/** Where a scan of `size` ports starts: an integer in 0..size-1. */
export function assertOffset(offset: number, size: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset >= size) {
    throw new RangeError(`offset must be an integer in 0..${size - 1}, got ${offset}`);
  }
}

/**
 * The checked arguments of `PortLeases.allocate`, as both adapters use them: the range, the
 * offset (default 0) and the skipped ports inside the range, each once.
 */
export function allocateArguments(
  nodeId: string,
  range: { start: number; end: number },
  ownerId: string,
  opts: { offset?: number; skip?: Iterable<number> } | undefined,
): { start: number; end: number; offset: number; skip: number[] } {
  assertName("nodeId", nodeId);
  assertPortRange(range);
  assertName("ownerId", ownerId);
  const offset = opts?.offset ?? 0;
  assertOffset(offset, range.end - range.start + 1);
  const skip = new Set<number>();
  for (const port of opts?.skip ?? []) {
    assertPort(port);
    if (port >= range.start && port <= range.end) skip.add(port);
  }
  return { start: range.start, end: range.end, offset, skip: [...skip] };
}
