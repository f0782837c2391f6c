/**
 * A node's port pool: its range, and where in it an allocation starts looking. The port leases
 * scan from a random offset so that concurrent allocators (replicas) claim ports spread over the
 * range rather than all at its start; the scan and the claim are one atomic step, so there is no
 * race to lose.
 */

export interface PortRange {
  readonly start: number;
  readonly end: number;
}

/** Ports sesman and its displays use: never handed out. */
export const reservedRanges: readonly PortRange[] = [{ start: 5900, end: 6299 }];

/** The default pool of a node, clear of the reserved ranges. */
export const defaultPortRange: PortRange = { start: 3390, end: 3489 };

/** True when the range lies within 1024-65535 and clear of the reserved ranges. */
export function isUsableRange(r: PortRange): boolean {
  return (
    r.start >= 1024 &&
    r.end <= 65535 &&
    r.start <= r.end &&
    reservedRanges.every((x) => r.end < x.start || r.start > x.end)
  );
}

/** A random place in `range` to start the scan from: an index in 0..size-1. */
export function scanOffset(range: PortRange, random: () => number = Math.random): number {
  const size = range.end - range.start + 1;
  return Math.min(Math.floor(random() * size), size - 1);
}

/** Thrown when every port of a node's pool is held. */
export class PortPoolExhaustedError extends Error {
  override readonly name = "PortPoolExhaustedError";
  constructor(readonly nodeId: string) {
    super(`the port pool of node ${nodeId} is exhausted`);
  }
}
