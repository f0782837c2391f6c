import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { TestClock } from "./test-clock.js";

describe("TestClock", () => {
  const clocks: TestClock[] = [];
  afterEach(() => {
    for (const clock of clocks.splice(0)) clock.remove();
  });
  const make = (...args: ConstructorParameters<typeof TestClock>) => {
    const clock = new TestClock(...args);
    clocks.push(clock);
    return clock;
  };
  const offset = (clock: TestClock) => Number(readFileSync(clock.file, "utf8"));

  it("starts at offset 0", () => {
    expect(offset(make())).toBe(0);
  });

  describe("advancePast()", () => {
    it("moves the offset past a Date or epoch milliseconds plus the margin", () => {
      const clock = make({ marginMs: 2_000 });
      const target = Date.now() + 60_000;
      clock.advancePast(target);
      expect(offset(clock)).toBeGreaterThanOrEqual(target + 2_000 - Date.now());
      clock.advancePast(new Date(target + 60_000), 0);
      expect(offset(clock)).toBeGreaterThanOrEqual(target + 60_000 - Date.now());
    });

    it("never moves the clock back", () => {
      const clock = make();
      clock.advancePast(Date.now() + 60_000);
      const before = offset(clock);
      clock.advancePast(Date.now() + 1_000);
      expect(offset(clock)).toBe(before);
    });
  });

  it("remove() deletes its directory", () => {
    const clock = new TestClock();
    clock.remove();
    expect(existsSync(clock.dir)).toBe(false);
  });
});
