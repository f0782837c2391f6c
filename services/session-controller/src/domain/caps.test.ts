import { describe, expect, it } from "vitest";
import {
  assertCapLimits,
  CapExceededError,
  capKeys,
  capsToTake,
  holdsCaps,
  releasesCaps,
} from "./caps.js";

describe("caps", () => {
  describe("capKeys()", () => {
    it("gives a key per user and one for the total", () => {
      expect(capKeys("alice")).toEqual({ user: "sessions:user:alice", total: "sessions:total" });
      expect(capKeys("bob@corp").user).toBe("sessions:user:bob@corp");
    });

    it("refuses a user name that could forge another key", () => {
      for (const user of ["", "alice:x", "total\n", "a b", ".x"]) {
        expect(() => capKeys(user), JSON.stringify(user)).toThrow(RangeError);
      }
    });
  });

  describe("capsToTake()", () => {
    it("takes the user's cap first, then the total", () => {
      expect(capsToTake("alice", { perUser: 3, total: 100 })).toEqual([
        { cap: "per_user", key: "sessions:user:alice", limit: 3 },
        { cap: "total", key: "sessions:total", limit: 100 },
      ]);
    });
  });

  describe("CapExceededError", () => {
    it("names the cap, its limit and the user", () => {
      const perUser = new CapExceededError("per_user", 3, "alice");
      expect(perUser.message).toBe("max sessions per user (3) reached for alice");
      expect([perUser.cap, perUser.limit, perUser.user, perUser.name]).toEqual([
        "per_user",
        3,
        "alice",
        "CapExceededError",
      ]);
      expect(new CapExceededError("total", 100, "alice").message).toBe(
        "max sessions in total (100) reached",
      );
    });
  });

  describe("assertCapLimits()", () => {
    it("takes positive integers with the user's cap at most the total", () => {
      expect(() => assertCapLimits({ perUser: 3, total: 100 })).not.toThrow();
      expect(() => assertCapLimits({ perUser: 0, total: 100 })).toThrow("caps: perUser");
      expect(() => assertCapLimits({ perUser: 3, total: 1.5 })).toThrow("caps: total");
      expect(() => assertCapLimits({ perUser: 5, total: 4 })).toThrow("must not exceed total");
    });
  });

  describe("holdsCaps() and releasesCaps()", () => {
    it("holds from PENDING to TERMINATING and releases on reaching an end", () => {
      expect(holdsCaps("PENDING") && holdsCaps("DISCONNECTED") && holdsCaps("TERMINATING")).toBe(
        true,
      );
      expect(holdsCaps("TERMINATED") || holdsCaps("FAILED")).toBe(false);
      expect(releasesCaps("TERMINATING", "TERMINATED")).toBe(true);
      expect(releasesCaps("PROVISIONING", "FAILED")).toBe(true);
      expect(releasesCaps("ACTIVE", "TERMINATING")).toBe(false);
      expect(releasesCaps("FAILED", "FAILED")).toBe(false);
    });
  });
});
