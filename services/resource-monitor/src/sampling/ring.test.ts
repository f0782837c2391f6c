import { describe, expect, it } from "vitest";
import { Ring } from "./ring.js";

describe("Ring", () => {
  describe("constructor()", () => {
    it("rejects a capacity that is not a positive integer", () => {
      for (const capacity of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => new Ring(capacity)).toThrow(RangeError);
      }
    });
  });

  describe("push()", () => {
    it("keeps every value, oldest first, until the ring is full", () => {
      const ring = new Ring<number>(3);
      expect(ring.toArray()).toEqual([]);
      expect(ring.latest()).toBeUndefined();
      ring.push(1);
      ring.push(2);
      expect(ring.toArray()).toEqual([1, 2]);
      expect(ring.size).toBe(2);
      expect(ring.latest()).toBe(2);
    });

    it("overwrites the oldest value once full, holding at most capacity values", () => {
      const ring = new Ring<number>(3);
      for (let i = 1; i <= 10; i++) ring.push(i);
      expect(ring.toArray()).toEqual([8, 9, 10]);
      expect(ring.size).toBe(3);
      expect(ring.latest()).toBe(10);
    });

    it("works with a capacity of one", () => {
      const ring = new Ring<string>(1);
      ring.push("a");
      ring.push("b");
      expect(ring.toArray()).toEqual(["b"]);
      expect(ring.latest()).toBe("b");
    });
  });

  describe("since()", () => {
    const timeOf = (v: { time: number }) => v.time;

    it("returns the values at or after t, oldest first, across the wrap", () => {
      const ring = new Ring<{ time: number }>(4);
      for (const time of [10, 20, 30, 40, 50, 60]) ring.push({ time });
      expect(ring.since(40, timeOf).map(timeOf)).toEqual([40, 50, 60]);
      expect(ring.since(0, timeOf).map(timeOf)).toEqual([30, 40, 50, 60]);
      expect(ring.since(61, timeOf)).toEqual([]);
    });

    it("stays right when the clock stepped back between pushes", () => {
      const ring = new Ring<{ time: number }>(4);
      for (const time of [100, 200, 50, 300]) ring.push({ time });
      expect(ring.since(150, timeOf).map(timeOf)).toEqual([200, 300]);
    });
  });

  describe("clear()", () => {
    it("empties the ring, which then fills again from the start", () => {
      const ring = new Ring<number>(2);
      for (const v of [1, 2, 3]) ring.push(v);
      ring.clear();
      expect(ring.size).toBe(0);
      ring.push(4);
      expect(ring.toArray()).toEqual([4]);
    });
  });
});
