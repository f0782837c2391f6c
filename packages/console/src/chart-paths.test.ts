import { describe, expect, it } from "vitest";
import { chartPaths } from "./chart-paths.js";

describe("chartPaths()", () => {
  it("draws values right-aligned, 100 at the top and 0 at the bottom", () => {
    // max 4: points 100 apart; three values take the last three slots.
    expect(chartPaths([0, 50, 100], 4)).toEqual({
      line: "M100.0,100.0L200.0,50.0L300.0,0.0",
      area: "M100.0,100L100.0,100.0L200.0,50.0L300.0,0.0L300,100Z",
    });
  });

  it("spans the whole width once full", () => {
    const { line } = chartPaths([10, 20, 30, 40], 4);
    expect(line.startsWith("M0.0,90.0")).toBe(true);
    expect(line.endsWith("L300.0,60.0")).toBe(true);
  });

  it("draws a single value at the right edge", () => {
    expect(chartPaths([25], 90).line).toBe("M300.0,75.0");
  });
});
