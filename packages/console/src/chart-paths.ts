/** The geometry of the console's charts, apart from the SVG that draws it. */

/** One sample: when (ms since the epoch) and its value. */
export interface Sample {
  readonly t: number;
  readonly v: number;
}

/** The plot area inside the SVG's viewBox, and the domain it shows. */
export interface Frame {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  /** The time at the left and right edges. */
  readonly t0: number;
  readonly t1: number;
  /** The value at the top edge (0 is at the bottom). */
  readonly top: number;
}

/** Where time `t` sits horizontally in `f`. */
export const xOf = (f: Frame, t: number) =>
  f.x + (f.t1 > f.t0 ? ((t - f.t0) / (f.t1 - f.t0)) * f.w : f.w);

/** Where value `v` sits vertically in `f` (clamped to the plot; y grows downwards). */
export const yOf = (f: Frame, v: number) =>
  f.y + f.h - (Math.min(Math.max(v, 0), f.top) / (f.top || 1)) * f.h;

/**
 * The SVG path data of `samples` (oldest first) in frame `f`: the line through them, and the
 * area under it, closed along the bottom edge. Empty strings when there is no sample.
 */
export function chartPaths(samples: readonly Sample[], f: Frame): { line: string; area: string } {
  if (samples.length === 0) return { line: "", area: "" };
  const pts = samples.map((s) => `${xOf(f, s.t).toFixed(1)},${yOf(f, s.v).toFixed(1)}`);
  const bottom = (f.y + f.h).toFixed(1);
  const first = xOf(f, samples[0]?.t ?? f.t0).toFixed(1);
  const last = xOf(f, samples[samples.length - 1]?.t ?? f.t1).toFixed(1);
  return {
    line: `M${pts.join("L")}`,
    area: `M${first},${bottom}L${pts.join("L")}L${last},${bottom}Z`,
  };
}
