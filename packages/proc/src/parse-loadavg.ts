/** The parser of /proc/loadavg (proc(5)). */

/** The run-queue load averages over 1, 5 and 15 minutes. */
export interface LoadAverage {
  load1: number;
  load5: number;
  load15: number;
}

/** Parses "0.52 0.58 0.59 2/467 12345": the first three fields; a missing one reads 0. */
export function parseLoadavg(text: string): LoadAverage {
  const [load1 = 0, load5 = 0, load15 = 0] = text
    .trim()
    .split(/\s+/)
    .slice(0, 3)
    .map((f) => Number.parseFloat(f) || 0);
  return { load1, load5, load15 };
}
