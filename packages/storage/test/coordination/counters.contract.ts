/** The contract of `Counters`, run against every adapter. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Counters } from "../../src/coordination/index.js";
import type { ContractFixture, MakeFixture } from "./fixture.js";

export function describeCountersContract(name: string, make: MakeFixture<Counters>) {
  describe(`Counters (${name})`, () => {
    let fx: ContractFixture<Counters>;
    let counters: Counters;
    beforeEach(async () => {
      fx = await make();
      counters = fx.impl;
    });
    afterEach(async () => {
      await fx.close();
    });

    describe("get()", () => {
      it("reads 0 for a counter never written", async () => {
        expect(await counters.get("sessions:user-1")).toBe(0);
      });
    });

    describe("tryIncrement()", () => {
      it("increments below the limit and refuses at it, leaving the value", async () => {
        expect(await counters.tryIncrement("sessions", 2)).toEqual({ ok: true, value: 1 });
        expect(await counters.tryIncrement("sessions", 2)).toEqual({ ok: true, value: 2 });
        expect(await counters.tryIncrement("sessions", 2)).toEqual({ ok: false, value: 2 });
        expect(await counters.get("sessions")).toBe(2);
      });

      it("never succeeds with a limit of 0", async () => {
        expect(await counters.tryIncrement("sessions", 0)).toEqual({ ok: false, value: 0 });
      });

      it("lets exactly 10 of 50 concurrent callers through a limit of 10", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, () => counters.tryIncrement("cap", 10)),
        );
        const granted = results.filter((r) => r.ok).map((r) => r.value);
        expect(granted.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(results.filter((r) => !r.ok).every((r) => r.value === 10)).toBe(true);
        expect(await counters.get("cap")).toBe(10);
      });

      it("keeps counters apart", async () => {
        await counters.tryIncrement("a", 5);
        expect(await counters.get("b")).toBe(0);
      });

      it("rejects a negative limit", async () => {
        await expect(counters.tryIncrement("cap", -1)).rejects.toThrow(RangeError);
      });
    });

    describe("decrement()", () => {
      it("decrements and never goes below 0", async () => {
        await counters.set("sessions", 2);
        expect(await counters.decrement("sessions")).toBe(1);
        expect(await counters.decrement("sessions")).toBe(0);
        expect(await counters.decrement("sessions")).toBe(0);
        expect(await counters.decrement("never-written")).toBe(0);
        expect(await counters.get("sessions")).toBe(0);
      });

      it("frees a place under the limit", async () => {
        await counters.set("cap", 3);
        expect((await counters.tryIncrement("cap", 3)).ok).toBe(false);
        await counters.decrement("cap");
        expect(await counters.tryIncrement("cap", 3)).toEqual({ ok: true, value: 3 });
      });
    });

    describe("set()", () => {
      it("overwrites the value, also above a limit used later", async () => {
        await counters.set("sessions", 15);
        expect(await counters.get("sessions")).toBe(15);
        expect(await counters.tryIncrement("sessions", 10)).toEqual({ ok: false, value: 15 });
        await counters.set("sessions", 0);
        expect(await counters.get("sessions")).toBe(0);
      });

      it("rejects a negative or fractional value", async () => {
        await expect(counters.set("sessions", -1)).rejects.toThrow(RangeError);
        await expect(counters.set("sessions", 0.5)).rejects.toThrow(RangeError);
      });
    });
  });
}
