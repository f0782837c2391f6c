/** The contract of `PortLeases`, run against every adapter. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortLeases } from "../../src/coordination/index.js";
import type { ContractFixture, MakeFixture } from "./fixture.js";

export function describePortLeasesContract(name: string, make: MakeFixture<PortLeases>) {
  describe(`PortLeases (${name})`, () => {
    let fx: ContractFixture<PortLeases>;
    let ports: PortLeases;
    beforeEach(async () => {
      fx = await make();
      ports = fx.impl;
    });
    afterEach(async () => {
      await fx.close();
    });

    describe("claim()", () => {
      it("gives a free port to its first claimant only", async () => {
        expect(await ports.claim("node-1", 3390, "instance-a")).toBe(true);
        expect(await ports.claim("node-1", 3390, "instance-b")).toBe(false);
        expect(await ports.owner("node-1", 3390)).toBe("instance-a");
      });

      it("is idempotent for the owner (a retried claim succeeds)", async () => {
        expect(await ports.claim("node-1", 3390, "instance-a")).toBe(true);
        expect(await ports.claim("node-1", 3390, "instance-a")).toBe(true);
        expect(await ports.list("node-1")).toEqual(new Map([[3390, "instance-a"]]));
      });

      it("keeps nodes apart: the same port on two nodes has two owners", async () => {
        expect(await ports.claim("node-1", 3390, "instance-a")).toBe(true);
        expect(await ports.claim("node-2", 3390, "instance-b")).toBe(true);
        expect(await ports.owner("node-2", 3390)).toBe("instance-b");
      });

      it("lets exactly one of two concurrent owners win, for each of 25 ports", async () => {
        const portsUnderTest = Array.from({ length: 25 }, (_, i) => 4000 + i);
        const outcomes = await Promise.all(
          portsUnderTest.map(async (port) => {
            const [a, b] = await Promise.all([
              ports.claim("node-1", port, "instance-a"),
              ports.claim("node-1", port, "instance-b"),
            ]);
            return { port, a, b, owner: await ports.owner("node-1", port) };
          }),
        );
        for (const { a, b, owner } of outcomes) {
          expect(a !== b).toBe(true);
          expect(owner).toBe(a ? "instance-a" : "instance-b");
        }
      });

      it("rejects a port outside 1..65535", async () => {
        await expect(ports.claim("node-1", 0, "instance-a")).rejects.toThrow(RangeError);
        await expect(ports.claim("node-1", 65_536, "instance-a")).rejects.toThrow(RangeError);
        await expect(ports.claim("node-1", 3390.5, "instance-a")).rejects.toThrow(RangeError);
      });
    });

    describe("allocate()", () => {
      /** Five ports: small enough to fill in a test, large enough to wrap around. */
      const five = { start: 3390, end: 3394 };

      it("claims the first free port from the offset, wrapping around after the range's end", async () => {
        await ports.claim("node-1", 3392, "server-x");
        await ports.claim("node-1", 3393, "server-y");
        expect(await ports.allocate("node-1", five, "server-a", { offset: 2 })).toBe(3394);
        expect(await ports.allocate("node-1", five, "server-b", { offset: 2 })).toBe(3390);
        expect(await ports.allocate("node-1", five, "server-c")).toBe(3391);
        expect([...(await ports.list("node-1"))]).toEqual([
          [3390, "server-b"],
          [3391, "server-c"],
          [3392, "server-x"],
          [3393, "server-y"],
          [3394, "server-a"],
        ]);
      });

      it("passes over the skipped ports, even when free; skipped ports outside the range change nothing", async () => {
        expect(await ports.allocate("node-1", five, "server-a", { skip: [3390, 3391, 9999] })).toBe(
          3392,
        );
        expect(
          await ports.allocate("node-1", five, "server-b", { offset: 4, skip: new Set([3394]) }),
        ).toBe(3390);
        expect(await ports.owner("node-1", 3391)).toBeUndefined();
        expect(await ports.owner("node-1", 3394)).toBeUndefined();
      });

      it("returns undefined when the pool is full, and claims nothing", async () => {
        for (let port = five.start; port <= five.end; port++) {
          expect(await ports.allocate("node-1", five, `server-${port}`)).toBe(port);
        }
        const before = await ports.list("node-1");
        for (let offset = 0; offset < 5; offset++) {
          expect(await ports.allocate("node-1", five, "server-late", { offset })).toBeUndefined();
        }
        expect(await ports.list("node-1")).toEqual(before);
      });

      it("returns undefined when every free port is skipped", async () => {
        await ports.claim("node-1", 3390, "server-x");
        await ports.claim("node-1", 3391, "server-y");
        await ports.claim("node-1", 3392, "server-z");
        expect(
          await ports.allocate("node-1", five, "server-a", { offset: 1, skip: [3393, 3394] }),
        ).toBeUndefined();
        expect((await ports.list("node-1")).size).toBe(3);
      });

      it("reuses a port once its claim is released (by its owner, by releaseAllOf, or by the reaper)", async () => {
        for (let port = five.start; port <= five.end; port++) {
          await ports.claim("node-1", port, port === 3391 ? "server-gone" : `server-${port}`);
        }
        expect(await ports.allocate("node-1", five, "server-a")).toBeUndefined();
        expect(await ports.release("node-1", 3393, "server-3393")).toBe(true);
        expect(await ports.allocate("node-1", five, "server-a")).toBe(3393);
        expect(await ports.releaseAllOf("server-gone", "node-1")).toBe(1);
        expect(await ports.allocate("node-1", five, "server-b", { offset: 4 })).toBe(3391);
        expect(await ports.owner("node-1", 3391)).toBe("server-b");
      });

      it("is idempotent for the owner: a repeated call returns the port it holds (as claim() would)", async () => {
        const port = await ports.allocate("node-1", five, "server-a", { offset: 3 });
        expect(port).toBe(3393);
        expect(await ports.allocate("node-1", five, "server-a", { offset: 3 })).toBe(3393);
        expect(await ports.claim("node-1", 3393, "server-b")).toBe(false);
        expect([...(await ports.list("node-1"))]).toEqual([[3393, "server-a"]]);
      });

      it("keeps nodes apart", async () => {
        expect(await ports.allocate("node-1", five, "server-a")).toBe(3390);
        expect(await ports.allocate("node-2", five, "server-b")).toBe(3390);
        expect(await ports.owner("node-1", 3390)).toBe("server-a");
        expect(await ports.owner("node-2", 3390)).toBe("server-b");
      });

      it("never gives one port to two of many concurrent claimers, and fills the pool exactly", async () => {
        const range = { start: 4000, end: 4039 };
        // 60 claimers on 40 ports, many starting at the same offset: the worst case for races.
        const claimers = Array.from({ length: 60 }, (_, i) => ({
          owner: `server-${i}`,
          offset: (i * 7) % 10,
        }));
        const outcomes = await Promise.all(
          claimers.map(async ({ owner, offset }) => ({
            owner,
            port: await ports.allocate("node-1", range, owner, { offset }),
          })),
        );
        const granted = outcomes.filter((o) => o.port !== undefined);
        expect(granted).toHaveLength(40);
        expect(new Set(granted.map((o) => o.port)).size).toBe(40);
        expect(outcomes.filter((o) => o.port === undefined)).toHaveLength(20);
        expect(await ports.list("node-1")).toEqual(
          new Map(
            granted.map((o) => [o.port as number, o.owner] as const).sort(([a], [b]) => a - b),
          ),
        );
      });

      it("rejects a bad range, offset, skipped port or name", async () => {
        const bad: Promise<unknown>[] = [
          ports.allocate("node-1", { start: 3394, end: 3390 }, "server-a"),
          ports.allocate("node-1", { start: 0, end: 3390 }, "server-a"),
          ports.allocate("node-1", { start: 3390, end: 65_536 }, "server-a"),
          ports.allocate("node-1", five, "server-a", { offset: 5 }),
          ports.allocate("node-1", five, "server-a", { offset: -1 }),
          ports.allocate("node-1", five, "server-a", { offset: 1.5 }),
          ports.allocate("node-1", five, "server-a", { skip: [3390.5] }),
          ports.allocate("node-1", five, ""),
          ports.allocate("", five, "server-a"),
        ];
        const outcomes = await Promise.allSettled(bad);
        for (const o of outcomes) {
          expect(o.status).toBe("rejected");
          expect((o as PromiseRejectedResult).reason).toBeInstanceOf(RangeError);
        }
        expect(await ports.list("node-1")).toEqual(new Map());
      });

      it("rejects with the reason of an aborted signal, claiming nothing", async () => {
        const reason = new Error("deadline");
        await expect(
          ports.allocate("node-1", five, "server-a", { signal: AbortSignal.abort(reason) }),
        ).rejects.toBe(reason);
        expect(await ports.list("node-1")).toEqual(new Map());
      });
    });

    describe("release()", () => {
      it("frees a port for its owner only", async () => {
        await ports.claim("node-1", 3390, "instance-a");
        expect(await ports.release("node-1", 3390, "instance-b")).toBe(false);
        expect(await ports.owner("node-1", 3390)).toBe("instance-a");
        expect(await ports.release("node-1", 3390, "instance-a")).toBe(true);
        expect(await ports.owner("node-1", 3390)).toBeUndefined();
        expect(await ports.release("node-1", 3390, "instance-a")).toBe(false);
        expect(await ports.claim("node-1", 3390, "instance-b")).toBe(true);
      });
    });

    describe("list()", () => {
      it("returns the node's claimed ports by ascending port, and nothing for an unknown node", async () => {
        await ports.claim("node-1", 3392, "instance-b");
        await ports.claim("node-1", 3390, "instance-a");
        await ports.claim("node-1", 3391, "instance-a");
        await ports.claim("node-2", 3390, "instance-c");
        const listed = await ports.list("node-1");
        expect([...listed]).toEqual([
          [3390, "instance-a"],
          [3391, "instance-a"],
          [3392, "instance-b"],
        ]);
        expect(await ports.list("node-9")).toEqual(new Map());
      });
    });

    describe("releaseAllOf()", () => {
      it("frees every port of the owner on that node and returns how many", async () => {
        await ports.claim("node-1", 3390, "server-dead");
        await ports.claim("node-1", 3391, "server-alive");
        await ports.claim("node-1", 3392, "server-dead");
        await ports.claim("node-2", 3390, "server-dead");
        expect(await ports.releaseAllOf("server-dead", "node-1")).toBe(2);
        expect([...(await ports.list("node-1"))]).toEqual([[3391, "server-alive"]]);
        expect(await ports.owner("node-2", 3390)).toBe("server-dead");
        expect(await ports.releaseAllOf("server-dead", "node-1")).toBe(0);
        expect(await ports.releaseAllOf("nobody", "node-9")).toBe(0);
      });
    });
  });
}
