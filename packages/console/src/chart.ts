/** The console's line charts (host CPU and memory), drawn as SVG. */
import { chartPaths } from "./chart-paths.js";

const svgNs = "http://www.w3.org/2000/svg";

/** A live chart: `push` adds a value (clamped to 0-100), `reset` starts over. */
export interface Chart {
  push(v: number): void;
  /** Starts over, e.g. with the history of a reconnect. */
  reset(): void;
}

/** A filled line chart of the last `max` values (0-100), drawn as SVG with a 25% grid. */
export function createChart(container: HTMLElement, max = 90): Chart {
  const values: number[] = [];
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 300 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  for (const y of [25, 50, 75]) {
    const l = document.createElementNS(svgNs, "line");
    for (const [k, v] of [
      ["x1", "0"],
      ["x2", "300"],
      ["y1", `${y}`],
      ["y2", `${y}`],
    ] as const)
      l.setAttribute(k, v);
    l.setAttribute("class", "grid-line");
    l.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(l);
  }
  const area = document.createElementNS(svgNs, "path");
  area.setAttribute("class", "area");
  const line = document.createElementNS(svgNs, "path");
  line.setAttribute("class", "line");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(area, line);
  container.append(svg);
  const push = (v: number) => {
    values.push(Math.min(100, Math.max(0, v)));
    if (values.length > max) values.shift();
    const d = chartPaths(values, max);
    line.setAttribute("d", d.line);
    area.setAttribute("d", d.area);
    svg.setAttribute("aria-label", `${v.toFixed(1)}%`);
  };
  return {
    push,
    reset: () => {
      values.length = 0;
    },
  };
}
