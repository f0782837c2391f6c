/** The geometry of the console's charts, apart from the SVG that draws it. */

/**
 * The SVG path data of the last `values` (each 0-100) drawn right-aligned in a 300x100 viewBox
 * with `max` points across (y grows downwards, so a value v sits at y = 100 - v): the line
 * through them, and the area under it, closed along the bottom edge.
 */
export function chartPaths(values: readonly number[], max: number): { line: string; area: string } {
  const step = 300 / (max - 1);
  const x0 = 300 - (values.length - 1) * step;
  const pts = values.map((y, i) => `${(x0 + i * step).toFixed(1)},${(100 - y).toFixed(1)}`);
  return {
    line: `M${pts.join("L")}`,
    area: `M${x0.toFixed(1)},100L${pts.join("L")}L300,100Z`,
  };
}
