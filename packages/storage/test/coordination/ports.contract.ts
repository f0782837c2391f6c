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
