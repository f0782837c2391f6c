import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { formatMs } from "./duration.js";
import { localTime, relative, when } from "./time.js";

describe("relative()", () => {
  const now = new Date(2026, 11, 6, 12, 0, 0);
  it("says how long ago or until", () => {
    expect(relative(new Date(now.getTime() - 12_000), now)).toBe("12s ago");
    expect(relative(new Date(now.getTime() - 5 * 60_000), now)).toBe("5m ago");
    expect(relative(new Date(now.getTime() - 3 * 3_600_000), now)).toBe("3h ago");
    expect(relative(new Date(now.getTime() - 2 * 86_400_000), now)).toBe("2d ago");
    expect(relative(new Date(now.getTime() + 5 * 60_000), now)).toBe("in 5m");
  });
});

describe("when()", () => {
  const now = new Date(2026, 11, 6, 12, 0, 0);
  it("shows the local time alone on the same day, with the date otherwise", () => {
    expect(when(timestampFromDate(new Date(2026, 11, 6, 11, 58, 30)), now)).toBe(
      "11:58:30 (1m ago)",
    );
    expect(when(timestampFromDate(new Date(2026, 11, 4, 9, 5, 0)), now)).toBe(
      "2026-12-04 09:05:00 (2d ago)",
    );
    expect(when(undefined, now)).toBe("");
  });

  it("formats local times with zero padding", () => {
    expect(localTime(new Date(2026, 0, 2, 3, 4, 5))).toBe("2026-01-02 03:04:05");
  });
});

describe("formatMs()", () => {
  it("uses the largest units first", () => {
    expect(formatMs(500)).toBe("500ms");
    expect(formatMs(90_000)).toBe("1m30s");
    expect(formatMs(5_400_000)).toBe("1h30m");
    expect(formatMs(86_400_000)).toBe("1d");
    expect(formatMs(0)).toBe("0ms");
  });
});
