import { describe, expect, it } from "vitest";
import { isCrashLoop, recentExits, restartDelayMs } from "./restart-policy.js";

const policy = {
  restartBackoffMs: 100,
  maxRestartBackoffMs: 1_000,
  crashLoopExits: 3,
  crashLoopWindowMs: 10_000,
};

describe("recentExits()", () => {
  it("keeps the exits inside the window and appends this one", () => {
    expect(recentExits([1_000, 5_000], 12_000, policy)).toEqual([5_000, 12_000]);
  });
});

describe("isCrashLoop()", () => {
  it("is true from crashLoopExits exits on", () => {
    expect(isCrashLoop([1, 2], policy)).toBe(false);
    expect(isCrashLoop([1, 2, 3], policy)).toBe(true);
  });
});

describe("restartDelayMs()", () => {
  it("doubles per restart up to the maximum", () => {
    expect([0, 1, 2, 3, 4].map((n) => restartDelayMs(n, policy))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
  });
});
