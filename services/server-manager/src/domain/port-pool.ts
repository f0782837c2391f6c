/**
 * Which port to try next on a node: the free ports of its range, starting at a random offset so
 * that concurrent allocators (replicas) rarely race for the same one. The Redis claim decides; a
 * lost race just moves on to the next candidate.
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

/** Free ports of `range` (not in `used`), in try order. */
export function candidatePorts(
  range: PortRange,
  used: ReadonlySet<number>,
  random: () => number = Math.random,
): number[] {
  const size = range.end - range.start + 1;
  const offset = Math.floor(random() * size);
  const out: number[] = [];
  for (let i = 0; i < size; i++) {
    const port = range.start + ((offset + i) % size);
    if (!used.has(port)) out.push(port);
  }
  return out;
}
