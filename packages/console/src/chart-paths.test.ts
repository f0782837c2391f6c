import { describe, expect, it } from "vitest";
import { chartPaths, type Frame, xOf, yOf } from "./chart-paths.js";

const f: Frame = { x: 40, y: 10, w: 300, h: 100, t0: 1000, t1: 4000, top: 100 };

describe("chart-paths", () => {
  it("maps time across and value up, clamped to the plot", () => {
    expect(xOf(f, 1000)).toBe(40);
    expect(xOf(f, 4000)).toBe(340);
    expect(yOf(f, 0)).toBe(110);
    expect(yOf(f, 100)).toBe(10);
    expect(yOf(f, 250)).toBe(10);
    expect(yOf(f, -5)).toBe(110);
  });

  it("draws the line and the area under it", () => {
    expect(
      chartPaths(
        [
          { t: 2000, v: 0 },
          { t: 3000, v: 50 },
          { t: 4000, v: 100 },
        ],
        f,
      ),
    ).toEqual({
      line: "M140.0,110.0L240.0,60.0L340.0,10.0",
      area: "M140.0,110.0L140.0,110.0L240.0,60.0L340.0,10.0L340.0,110.0Z",
    });
  });

  it("draws nothing without samples", () => {
    expect(chartPaths([], f)).toEqual({ line: "", area: "" });
  });
});
