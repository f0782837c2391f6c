import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { parseDuration } from "./parse-duration.js";

describe("parseDuration()", () => {
  it("reads units and compound durations", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
  });

  it("reads a bare number as seconds", () => {
    expect(parseDuration("45")).toBe(45_000);
    expect(parseDuration("0")).toBe(0);
  });

  it("rejects anything else, naming the value and the units", () => {
    for (const bad of ["", "5x", "m5", "1h 30m", "-5s", "5m!"]) {
      expect(() => parseDuration(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => parseDuration("5x")).toThrow(/"5x" is not a duration.*ms, s, m, h, d/);
  });
});
