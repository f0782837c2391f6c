import { describe, expect, it } from "vitest";
import { parseUptime } from "./parse-uptime.js";

describe("parseUptime()", () => {
  it("reads the seconds since boot of captured text, and 0 from no text", () => {
    expect(parseUptime("19528.32 14281.62\n")).toBe(19528.32);
    expect(parseUptime("")).toBe(0);
  });
});
