import { describe, expect, it } from "vitest";
import {
  DisplayRangeLock,
  DisplayRangeTakenError,
  heldDisplayRanges,
} from "./display-range-lock.js";

describe("DisplayRangeLock", () => {
  it("refuses a range that overlaps another holder's, names it, and frees it on release", async () => {
    // Two holders in one process stand for two services: the pid is part of the name.
    const a = await DisplayRangeLock.acquire({ first: 700, last: 749 }, 4_000_001);
    expect(heldDisplayRanges()).toContainEqual({ first: 700, last: 749, pid: 4_000_001 });
    const err = await DisplayRangeLock.acquire({ first: 740, last: 760 }, 4_000_002).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DisplayRangeTakenError);
    expect((err as Error).message).toContain("700-749");
    expect((err as Error).message).toContain("4000001");
    // Disjoint ranges share the host.
    const c = await DisplayRangeLock.acquire({ first: 750, last: 799 }, 4_000_003);
    await a.release();
    const d = await DisplayRangeLock.acquire({ first: 740, last: 749 }, 4_000_002);
    await c.release();
    await d.release();
    expect(heldDisplayRanges().filter((h) => h.pid >= 4_000_001 && h.pid <= 4_000_003)).toEqual([]);
  });
});
