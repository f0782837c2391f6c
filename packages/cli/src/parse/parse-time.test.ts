import { describe, expect, it } from "vitest";
import { parseTime } from "./parse-time.js";

describe("parseTime()", () => {
  const now = new Date("2026-12-06T12:00:00Z");

  it("reads a duration as that long ago", () => {
    expect(parseTime("1h", now).toISOString()).toBe("2026-12-06T11:00:00.000Z");
    expect(parseTime("90m", now).toISOString()).toBe("2026-12-06T10:30:00.000Z");
  });

  it("reads ISO date-times and dates (local midnight)", () => {
    expect(parseTime("2026-12-01T08:00:00Z", now).toISOString()).toBe("2026-12-01T08:00:00.000Z");
    const d = parseTime("2026-12-01", now);
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours()]).toEqual([2026, 11, 1, 0]);
  });

  it("rejects anything else", () => {
    expect(() => parseTime("yesterday", now)).toThrow(/"yesterday" is not a time/);
  });
});
