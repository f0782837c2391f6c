/**
 * X display numbers per instance. Every instance has an xrdp-sesman of its own, which starts its
 * desktops on the first free display of `X11DisplayOffset .. X11DisplayOffset + MaxSessions`
 * (xrdp 0.9.21 sesman/session.c). Each live instance therefore owns a block of displays that no
 * other instance uses: its desktops are exactly the X servers of its block, a block is cleaned of
 * stale files before it is handed out, and the node's free displays are known in advance.
 */

/** Displays `first .. first + count - 1`. */
export interface DisplayBlock {
  readonly first: number;
  readonly count: number;
}

/** The node's displays: `first .. last`, inclusive. */
export interface DisplayRange {
  readonly first: number;
  readonly last: number;
}

/** The displays an instance allowing `maxSessions` desktops needs: sesman scans one more. */
export function blockSizeFor(maxSessions: number): number {
  return Math.max(1, maxSessions) + 1;
}

/**
 * The lowest block of `count` displays inside `range` that overlaps none of `taken`, or undefined
 * when none is left.
 */
export function allocateDisplayBlock(
  taken: readonly DisplayBlock[],
  range: DisplayRange,
  count: number,
): DisplayBlock | undefined {
  const sorted = [...taken].sort((a, b) => a.first - b.first);
  let candidate = range.first;
  for (const b of sorted) {
    if (b.first + b.count <= candidate) continue;
    if (b.first >= candidate + count) break;
    candidate = b.first + b.count;
  }
  return candidate + count - 1 <= range.last ? { first: candidate, count } : undefined;
}

/** Displays of `range` not in any of `taken`. */
export function freeDisplays(taken: readonly DisplayBlock[], range: DisplayRange): number {
  const used = new Set<number>();
  for (const b of taken) {
    for (let d = b.first; d < b.first + b.count; d++) {
      if (d >= range.first && d <= range.last) used.add(d);
    }
  }
  return range.last - range.first + 1 - used.size;
}

/**
 * The most servers the node offers: with desktops (XRDP_SESMAN=managed) no more than its display
 * range has blocks for, at least 1; without, `maxInstances`.
 */
export function nodeMaxServers(node: {
  readonly managedDesktops: boolean;
  readonly maxInstances: number;
  readonly displayRange: DisplayRange;
  readonly maxSessions: number;
}): number {
  if (!node.managedDesktops) return node.maxInstances;
  const blocks = Math.floor(
    (node.displayRange.last - node.displayRange.first + 1) / blockSizeFor(node.maxSessions),
  );
  return Math.max(1, Math.min(node.maxInstances, blocks));
}
