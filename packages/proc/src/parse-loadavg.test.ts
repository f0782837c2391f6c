import { describe, expect, it } from "vitest";
import { parseLoadavg } from "./parse-loadavg.js";

describe("parseLoadavg()", () => {
  it("reads the three averages of captured text", () => {
    expect(parseLoadavg("3.77 2.87 3.00 8/146 20517\n")).toEqual({
      load1: 3.77,
      load5: 2.87,
      load15: 3,
    });
  });

  it("reads 0 for what is missing", () => {
    expect(parseLoadavg("")).toEqual({ load1: 0, load5: 0, load15: 0 });
  });
});
