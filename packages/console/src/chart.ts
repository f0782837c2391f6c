/** The console's line charts, drawn as SVG with labelled axes: values with units, clock times. */
import { chartPaths, type Frame, type Sample, yOf } from "./chart-paths.js";
import { timeTicks, valueTicks } from "./chart-scale.js";

const svgNs = "http://www.w3.org/2000/svg";

/** How a chart reads its values. */
export interface ChartOptions {
  /** The value axis' title, with its unit, e.g. "CPU (%)". */
  readonly title: string;
  /** A value as its tick label, e.g. "50%" or "1.5 GiB". */
  readonly format: (v: number) => string;
  /** A fixed top of the value axis (100 for percentages); absent scales to the data. */
  readonly top?: number;
  /** The most samples kept. @default 90 */
  readonly max?: number;
}

/** A live chart: `push` adds a sample, `reset` starts over. */
export interface Chart {
  push(t: number, v: number): void;
  /** Starts over, e.g. with the history of a reconnect. */
  reset(): void;
}

// The viewBox: room on the left for the value labels and at the bottom for the times.
const W = 340;
const H = 150;
const plot = { x: 44, y: 8, w: W - 52, h: H - 36 };

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * A filled line chart of the last samples with a value axis (gridlines and labels in the
 * chart's unit) and a time axis (clock times); both are redrawn with each sample.
 */
export function createChart(container: HTMLElement, opts: ChartOptions): Chart {
  const max = opts.max ?? 90;
  const samples: Sample[] = [];
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title });
  const axes = el("g", { class: "axes" });
  const area = el("path", { class: "area" });
  const line = el("path", { class: "line" });
  svg.append(axes, area, line);
  container.append(svg);

  const draw = () => {
    const last = samples[samples.length - 1];
    const t1 = last?.t ?? Date.now();
    const t0 = Math.min(samples[0]?.t ?? t1 - 60_000, t1 - 10_000);
    const { top, ticks } = valueTicks(
      opts.top ?? Math.max(0, ...samples.map((s) => s.v)),
      4,
      opts.format,
    );
    const f: Frame = { ...plot, t0, t1, top };
    const parts: SVGElement[] = [];
    for (const t of ticks) {
      const y = yOf(f, t.at);
      parts.push(
        el("line", { class: "grid-line", x1: plot.x, x2: plot.x + plot.w, y1: y, y2: y }),
        el("text", { class: "tick y", x: plot.x - 4, y: y + 3.5, "text-anchor": "end" }, t.label),
      );
    }
    for (const t of timeTicks(t0, t1, 4)) {
      const x = f.x + ((t.at - t0) / (t1 - t0)) * f.w;
      parts.push(
        el("line", {
          class: "tick-mark",
          x1: x,
          x2: x,
          y1: plot.y + plot.h,
          y2: plot.y + plot.h + 4,
        }),
        el("text", { class: "tick x", x, y: H - 14, "text-anchor": "middle" }, t.label),
      );
    }
    parts.push(
      el(
        "text",
        { class: "axis-title", x: plot.x + plot.w, y: H - 2, "text-anchor": "end" },
        "time",
      ),
    );
    parts.push(el("text", { class: "axis-title", x: 2, y: H - 2 }, opts.title));
    axes.replaceChildren(...parts);
    const d = chartPaths(samples, f);
    line.setAttribute("d", d.line);
    area.setAttribute("d", d.area);
    if (last) svg.setAttribute("aria-label", `${opts.title}: ${opts.format(last.v)}`);
  };
  draw();
  return {
    push: (t, v) => {
      samples.push({ t, v: Math.max(0, v) });
      if (samples.length > max) samples.shift();
      draw();
    },
    reset: () => {
      samples.length = 0;
    },
  };
}
