/** The contract of `LeaseManager`, run against every adapter. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LeaseLostError, type LeaseManager } from "../../src/coordination/index.js";
import { type ContractFixture, eventually, type MakeFixture } from "./fixture.js";

/** Short enough that the Redis run waits little, long enough to outlive one command. */
const SHORT_TTL_MS = 150;
const LONG_TTL_MS = 60_000;

export function describeLeaseManagerContract(name: string, make: MakeFixture<LeaseManager>) {
  describe(`LeaseManager (${name})`, () => {
    let fx: ContractFixture<LeaseManager>;
    let leases: LeaseManager;
    beforeEach(async () => {
      fx = await make();
      leases = fx.impl;
    });
    afterEach(async () => {
      await fx.close();
    });

    /** Waits out the TTL, then polls until the name is free again (Redis expires on its clock). */
    async function acquireAfterExpiry(lease: string) {
      await fx.elapse(SHORT_TTL_MS);
      return eventually(() => leases.acquire(lease, LONG_TTL_MS), `${lease} to expire`);
    }

    describe("acquire()", () => {
      it("returns a lease with a token, a positive fence and its expiry", async () => {
        const before = fx.now();
        const lease = await leases.acquire("reaper", LONG_TTL_MS);
        expect(lease).toMatchObject({ name: "reaper" });
        expect(lease!.token).toMatch(/^\S{16,}$/);
        expect(lease!.fence).toBeGreaterThan(0);
        expect(lease!.expiresAt.getTime()).toBeGreaterThanOrEqual(before + LONG_TTL_MS);
      });

      it("returns undefined while the lease is held, for another name succeeds", async () => {
        expect(await leases.acquire("reaper", LONG_TTL_MS)).toBeDefined();
        expect(await leases.acquire("reaper", LONG_TTL_MS)).toBeUndefined();
        expect(await leases.acquire("timers", LONG_TTL_MS)).toBeDefined();
      });

      it("lets exactly one of 20 concurrent callers win", async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, () => leases.acquire("contended", LONG_TTL_MS)),
        );
        expect(results.filter((l) => l !== undefined)).toHaveLength(1);
      });

      it("succeeds again once the lease expired, with a larger fence", async () => {
        const first = await leases.acquire("reaper", SHORT_TTL_MS);
        const second = await acquireAfterExpiry("reaper");
        expect(second.token).not.toBe(first!.token);
        expect(second.fence).toBeGreaterThan(first!.fence);
      });

      it("issues strictly increasing fences across release and re-acquire", async () => {
        const fences: number[] = [];
        for (let i = 0; i < 5; i++) {
          const lease = await leases.acquire("reaper", LONG_TTL_MS);
          fences.push(lease!.fence);
          expect(await leases.release(lease!)).toBe(true);
        }
        expect([...fences].sort((a, b) => a - b)).toEqual(fences);
        expect(new Set(fences).size).toBe(5);
      });

      it("rejects a TTL that is not a positive integer", async () => {
        await expect(leases.acquire("reaper", 0)).rejects.toThrow(RangeError);
        await expect(leases.acquire("reaper", 1.5)).rejects.toThrow(RangeError);
      });

      it("rejects with the reason of an aborted signal", async () => {
        const reason = new Error("caller gave up");
        await expect(
          leases.acquire("reaper", LONG_TTL_MS, { signal: AbortSignal.abort(reason) }),
        ).rejects.toBe(reason);
      });
    });

    describe("renew()", () => {
      it("keeps the lease held past its first TTL", async () => {
        const lease = await leases.acquire("reaper", SHORT_TTL_MS);
        expect(await leases.renew(lease!, LONG_TTL_MS)).toBe(true);
        await fx.elapse(SHORT_TTL_MS * 2);
        expect(await leases.acquire("reaper", LONG_TTL_MS)).toBeUndefined();
        expect(await leases.isCurrent(lease!)).toBe(true);
      });

      it("returns false after release", async () => {
        const lease = await leases.acquire("reaper", LONG_TTL_MS);
        await leases.release(lease!);
        expect(await leases.renew(lease!, LONG_TTL_MS)).toBe(false);
        expect(await leases.acquire("reaper", LONG_TTL_MS)).toBeDefined();
      });
    });

    describe("release()", () => {
      it("frees the lease once; a second release returns false", async () => {
        const lease = await leases.acquire("reaper", LONG_TTL_MS);
        expect(await leases.release(lease!)).toBe(true);
        expect(await leases.release(lease!)).toBe(false);
        expect(await leases.isCurrent(lease!)).toBe(false);
        expect(await leases.acquire("reaper", LONG_TTL_MS)).toBeDefined();
      });
    });

    describe("fencing", () => {
      it("a holder whose lease expired and was taken cannot renew, release or act", async () => {
        const a = (await leases.acquire("reaper", SHORT_TTL_MS))!;
        expect(await leases.isCurrent(a)).toBe(true);
        await expect(leases.assertCurrent(a)).resolves.toBeUndefined();

        const b = await acquireAfterExpiry("reaper");
        expect(b.fence).toBeGreaterThan(a.fence);

        expect(await leases.renew(a, LONG_TTL_MS)).toBe(false);
        expect(await leases.isCurrent(a)).toBe(false);
        const lost = await leases.assertCurrent(a).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(lost).toBeInstanceOf(LeaseLostError);
        expect(lost).toMatchObject({ leaseName: "reaper", fence: a.fence });
        expect(await leases.release(a)).toBe(false);

        // B is untouched by A's attempts.
        expect(await leases.isCurrent(b)).toBe(true);
        expect(await leases.acquire("reaper", LONG_TTL_MS)).toBeUndefined();
      });

      it("a lease whose fence is not the latest is not current even with its token", async () => {
        const a = (await leases.acquire("reaper", LONG_TTL_MS))!;
        expect(await leases.isCurrent({ ...a, fence: a.fence - 1 })).toBe(false);
        expect(await leases.isCurrent({ ...a, token: "forged-token-0000" })).toBe(false);
      });
    });
  });
}
