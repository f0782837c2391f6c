import { describe, expect, it } from "vitest";
import { NoCapacityError, pickNode } from "./placement.js";
import { isUsableRange, scanOffset } from "./port-pool.js";
import { canTransition, IllegalTransitionError, isTerminal, nextState } from "./server-state.js";

describe("server life cycle", () => {
  it("allows the documented path and FAILED from every live state", () => {
    for (const [from, to] of [
      ["PROVISIONING", "READY"],
      ["READY", "DRAINING"],
      ["DRAINING", "STOPPING"],
      ["STOPPING", "STOPPED"],
      ["PROVISIONING", "FAILED"],
      ["READY", "FAILED"],
      ["DRAINING", "FAILED"],
      ["STOPPING", "FAILED"],
      ["READY", "STOPPING"],
    ] as const) {
      expect(canTransition(from, to), `${from}->${to}`).toBe(true);
    }
  });

  it("refuses everything else, naming both states", () => {
    expect(() => nextState("s1", "STOPPED", "READY")).toThrow(IllegalTransitionError);
    expect(() => nextState("s1", "FAILED", "READY")).toThrow("cannot go from FAILED to READY");
    expect(canTransition("READY", "PROVISIONING")).toBe(false);
    expect(canTransition("DRAINING", "READY")).toBe(false);
    expect(isTerminal("STOPPED") && isTerminal("FAILED")).toBe(true);
  });
});

describe("pickNode()", () => {
  const node = (id: string, servers: number, over = {}) => ({
    id,
    healthy: true,
    draining: false,
    maxServers: 10,
    servers,
    ...over,
  });

  it("picks the least-loaded healthy node under its cap", () => {
    expect(pickNode([node("a", 5), node("b", 2), node("c", 9)]).id).toBe("b");
    expect(pickNode([node("a", 5), node("b", 1, { maxServers: 2 })], () => 0).id).toBe("a"); // a tie
  });

  it("breaks ties at random", () => {
    const nodes = [node("a", 1), node("b", 1), node("c", 1)];
    expect(pickNode(nodes, () => 0).id).toBe("a");
    expect(pickNode(nodes, () => 0.99).id).toBe("c");
  });

  it("tells the unhealthy nodes' own reasons when none can take a server", () => {
    expect(() =>
      pickNode([
        node("a", 0, { healthy: false, message: "xrdp: xrdp cannot be started: not found" }),
        node("b", 0, { draining: true }),
      ]),
    ).toThrow(
      "no healthy node accepts servers (2 known, 1 draining): node a: xrdp: xrdp cannot be started: not found",
    );
  });

  it("skips unhealthy, draining and full nodes, and says why none is left", () => {
    expect(pickNode([node("a", 0, { healthy: false }), node("b", 3)]).id).toBe("b");
    expect(() => pickNode([node("a", 0, { draining: true })])).toThrow(NoCapacityError);
    const full = (() => {
      try {
        pickNode([node("a", 10)]);
      } catch (e) {
        return e as NoCapacityError;
      }
      return undefined;
    })();
    expect(full?.kind).toBe("all_full");
    expect(() => pickNode([])).toThrow("no node is registered");
  });
});

describe("port pool", () => {
  it("starts the scan at a random index of the range", () => {
    const five = { start: 3390, end: 3394 };
    expect(scanOffset(five, () => 0)).toBe(0);
    expect(scanOffset(five, () => 0.5)).toBe(2);
    expect(scanOffset(five, () => 0.9999)).toBe(4);
    expect(scanOffset({ start: 3390, end: 3390 }, () => 0.7)).toBe(0);
  });

  it("keeps ranges clear of sesman's display ports", () => {
    expect(isUsableRange({ start: 3390, end: 3489 })).toBe(true);
    expect(isUsableRange({ start: 5800, end: 5950 })).toBe(false);
    expect(isUsableRange({ start: 6100, end: 6110 })).toBe(false);
    expect(isUsableRange({ start: 900, end: 1000 })).toBe(false);
    expect(isUsableRange({ start: 4000, end: 3999 })).toBe(false);
  });
});
