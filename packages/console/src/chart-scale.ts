/**
 * Pure: the axes of the console's charts: "nice" value ticks (1, 2 or 5 times a power of ten)
 * and time ticks on round clock steps, each with its label.
 */

/** One tick of an axis: where it sits (in the axis' own units) and what it reads. */
export interface Tick {
  readonly at: number;
  readonly label: string;
}

/** The smallest "nice" step (1, 2, 2.5 or 5 times a power of ten) of at most `count` steps to `max`. */
export function niceStep(max: number, count: number): number {
  if (!(max > 0)) return 1;
  const raw = max / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

/**
 * The value axis from 0: the top of the scale (`max` rounded up to a step, at least one step)
 * and a tick at each step, labelled with `format`.
 */
export function valueTicks(
  max: number,
  count: number,
  format: (v: number) => string,
): { top: number; ticks: Tick[] } {
  const step = niceStep(max, count);
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const ticks: Tick[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push({ at: v, label: format(v) });
  return { top, ticks };
}

const second = 1000;
const timeSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600].map(
  (s) => s * second,
);

/** The clock time of `ms` as HH:MM:SS (with seconds) or HH:MM, in the browser's time zone. */
export function clock(ms: number, seconds = true): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ""}`;
}

/**
 * Ticks on round clock steps between `t0` and `t1` (ms since the epoch): at most `count`, each
 * labelled HH:MM:SS, or HH:MM once the step is a whole minute.
 */
export function timeTicks(t0: number, t1: number, count: number): Tick[] {
  if (!(t1 > t0)) return [{ at: t0, label: clock(t0) }];
  const raw = (t1 - t0) / Math.max(1, count);
  const step = timeSteps.find((s) => s >= raw) ?? Math.ceil(raw / 3_600_000) * 3_600_000;
  // Align on the local clock, so that minute steps land on :00 of the local time.
  const offset = new Date(t0).getTimezoneOffset() * 60_000;
  const first = Math.ceil((t0 - offset) / step) * step + offset;
  const ticks: Tick[] = [];
  for (let t = first; t <= t1; t += step)
    ticks.push({ at: t, label: clock(t, step % 60_000 !== 0) });
  return ticks;
}
