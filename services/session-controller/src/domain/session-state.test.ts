import { describe, expect, it } from "vitest";
import {
  canTransition,
  connectedTimeChanges,
  IllegalSessionTransitionError,
  isTerminal,
  isUsable,
  nextState,
  sessionStates,
} from "./session-state.js";
import type { SessionState } from "./session-values.js";

const nonTerminal: readonly SessionState[] = [
  "PENDING",
  "PROVISIONING",
  "READY",
  "ACTIVE",
  "DISCONNECTED",
  "TERMINATING",
];

describe("session life cycle", () => {
  describe("canTransition()", () => {
    it("allows the documented path", () => {
      for (const [from, to] of [
        ["PENDING", "PROVISIONING"],
        ["PROVISIONING", "READY"],
        ["READY", "ACTIVE"],
        ["ACTIVE", "DISCONNECTED"],
        ["DISCONNECTED", "ACTIVE"],
        ["DISCONNECTED", "TERMINATING"],
        ["TERMINATING", "TERMINATED"],
      ] as const) {
        expect(canTransition(from, to), `${from}->${to}`).toBe(true);
      }
    });

    it("allows FAILED from every non-terminal state", () => {
      for (const from of nonTerminal) expect(canTransition(from, "FAILED"), from).toBe(true);
    });

    it("allows TERMINATING from PENDING to DISCONNECTED", () => {
      for (const from of nonTerminal.filter((s) => s !== "TERMINATING")) {
        expect(canTransition(from, "TERMINATING"), from).toBe(true);
      }
      expect(canTransition("TERMINATING", "TERMINATING")).toBe(false);
    });

    it("refuses skips, going back and leaving a terminal state", () => {
      for (const [from, to] of [
        ["PENDING", "READY"],
        ["PROVISIONING", "ACTIVE"],
        ["READY", "DISCONNECTED"],
        ["READY", "PROVISIONING"],
        ["ACTIVE", "READY"],
        ["ACTIVE", "TERMINATED"],
        ["DISCONNECTED", "READY"],
        ["TERMINATING", "ACTIVE"],
        ["FAILED", "TERMINATING"],
      ] as const) {
        expect(canTransition(from, to), `${from}->${to}`).toBe(false);
      }
      for (const to of sessionStates) {
        expect(canTransition("TERMINATED", to)).toBe(false);
        expect(canTransition("FAILED", to)).toBe(false);
      }
    });
  });

  describe("nextState()", () => {
    it("returns the new state when allowed", () => {
      expect(nextState("s1", "READY", "ACTIVE")).toBe("ACTIVE");
    });

    it("throws IllegalSessionTransitionError naming the session and both states", () => {
      const error = (() => {
        try {
          nextState("s1", "TERMINATED", "ACTIVE");
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(IllegalSessionTransitionError);
      const e = error as IllegalSessionTransitionError;
      expect(e.message).toBe("session s1 cannot go from TERMINATED to ACTIVE");
      expect([e.sessionId, e.from, e.to, e.name]).toEqual([
        "s1",
        "TERMINATED",
        "ACTIVE",
        "IllegalSessionTransitionError",
      ]);
    });
  });

  describe("isTerminal() and isUsable()", () => {
    it("knows which states end a session and which may still be used", () => {
      expect(sessionStates.filter(isTerminal)).toEqual(["TERMINATED", "FAILED"]);
      expect(sessionStates.filter(isUsable)).toEqual([
        "PENDING",
        "PROVISIONING",
        "READY",
        "ACTIVE",
        "DISCONNECTED",
      ]);
    });
  });

  describe("connectedTimeChanges()", () => {
    const connectedAt = new Date("2026-11-21T12:00:00Z");
    const later = (ms: number) => new Date(connectedAt.getTime() + ms);

    it("closes the open connected interval on every way out of ACTIVE", () => {
      for (const to of ["DISCONNECTED", "TERMINATING", "FAILED"] as const) {
        expect(
          connectedTimeChanges(
            "ACTIVE",
            to,
            { connectedTime: connectedAt, totalConnectedMs: 5_000 },
            later(13_600),
          ),
          to,
        ).toEqual({ disconnectedTime: later(13_600), totalConnectedMs: 18_600 });
      }
    });

    it("changes nothing on a move that does not leave ACTIVE", () => {
      const times = { connectedTime: connectedAt, totalConnectedMs: 5_000 };
      for (const [from, to] of [
        ["READY", "ACTIVE"],
        ["DISCONNECTED", "ACTIVE"],
        ["DISCONNECTED", "TERMINATING"],
        ["READY", "TERMINATING"],
        ["TERMINATING", "TERMINATED"],
        ["ACTIVE", "ACTIVE"],
      ] as const) {
        expect(connectedTimeChanges(from, to, times, later(1_000)), `${from}->${to}`).toEqual({});
      }
    });

    it("counts from zero and never counts a negative interval", () => {
      expect(
        connectedTimeChanges("ACTIVE", "TERMINATING", { connectedTime: connectedAt }, later(250)),
      ).toEqual({
        disconnectedTime: later(250),
        totalConnectedMs: 250,
      });
      // A clock that went back (another replica's) adds nothing rather than subtracting.
      expect(
        connectedTimeChanges(
          "ACTIVE",
          "DISCONNECTED",
          { connectedTime: connectedAt, totalConnectedMs: 900 },
          later(-10),
        ),
      ).toEqual({ disconnectedTime: later(-10), totalConnectedMs: 900 });
      // ACTIVE without a connect time (never written by this service): nothing to add.
      expect(connectedTimeChanges("ACTIVE", "FAILED", {}, later(0))).toEqual({
        disconnectedTime: later(0),
        totalConnectedMs: 0,
      });
    });
  });
});
