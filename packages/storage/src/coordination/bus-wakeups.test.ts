import { describe, expect, it } from "vitest";
import { BusWakeups, WAKEUP_RECHECK_MS, type Wakeup, type WakeupReason } from "./bus-wakeups.js";
import { MemoryEventBus } from "./memory-event-bus.js";

/**
 * Wake-ups whose waits end at once, moving a manual clock by the time they asked to sleep: what
 * waitUntil asks for is recorded, with no real time passing.
 */
class ManualWakeups extends BusWakeups {
  now = 0;
  readonly sleeps: number[] = [];

  constructor() {
    super({ bus: new MemoryEventBus(), family: "session" });
  }

  readonly clock = () => new Date(this.now);

  override watch(): Wakeup {
    return {
      next: async (timeoutMs: number): Promise<WakeupReason> => {
        this.sleeps.push(timeoutMs);
        this.now += timeoutMs;
        return "timeout";
      },
      close: () => undefined,
    };
  }
}

describe("BusWakeups", () => {
  describe("waitUntil()", () => {
    it("ends at its deadline on the injected clock, not at the next re-read", async () => {
      const w = new ManualWakeups();
      let reads = 0;
      const r = await w.waitUntil(
        "s1",
        async () => ++reads,
        () => true,
        {
          timeoutMs: 200,
          clock: w.clock,
        },
      );
      expect(w.sleeps).toEqual([200]);
      expect(w.now).toBe(200);
      expect(r).toBe(2);
    });

    it("re-reads at least every recheck interval until the deadline", async () => {
      const w = new ManualWakeups();
      let reads = 0;
      await w.waitUntil(
        "s1",
        async () => ++reads,
        () => true,
        {
          timeoutMs: 2 * WAKEUP_RECHECK_MS + 500,
          clock: w.clock,
        },
      );
      expect(w.sleeps).toEqual([WAKEUP_RECHECK_MS, WAKEUP_RECHECK_MS, 500]);
      expect(reads).toBe(4);
    });

    it("returns the first record that is no longer pending, and reads once with no time", async () => {
      const w = new ManualWakeups();
      let reads = 0;
      expect(
        await w.waitUntil(
          "s1",
          async () => ++reads,
          (n) => n < 3,
          {
            timeoutMs: 60_000,
            clock: w.clock,
          },
        ),
      ).toBe(3);
      const once = new ManualWakeups();
      expect(
        await once.waitUntil(
          "s1",
          async () => "pending",
          () => true,
          {
            timeoutMs: 0,
            clock: once.clock,
          },
        ),
      ).toBe("pending");
      expect(once.sleeps).toEqual([]);
    });

    it("ends with the error its check throws", async () => {
      const w = new ManualWakeups();
      await expect(
        w.waitUntil(
          "s1",
          async () => 1,
          () => true,
          {
            timeoutMs: 5_000,
            clock: w.clock,
            check: () => {
              throw new Error("no answer");
            },
          },
        ),
      ).rejects.toThrow("no answer");
    });
  });
});
