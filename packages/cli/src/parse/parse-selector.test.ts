import { MatchOperator } from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { formatSelector, parseSelector } from "./parse-selector.js";

describe("parseSelector()", () => {
  it("reads the four Prometheus operators", () => {
    expect(parseSelector("device=sda")).toEqual({
      name: "device",
      operator: MatchOperator.EQUAL,
      value: "sda",
    });
    expect(parseSelector("device!=sda").operator).toBe(MatchOperator.NOT_EQUAL);
    expect(parseSelector("device=~sd.").operator).toBe(MatchOperator.REGEX);
    expect(parseSelector("mount_point!~/boot.*")).toEqual({
      name: "mount_point",
      operator: MatchOperator.NOT_REGEX,
      value: "/boot.*",
    });
  });

  it("keeps = inside the value", () => {
    expect(parseSelector("a=b=c").value).toBe("b=c");
  });

  it("rejects a matcher without an operator or with a bad name", () => {
    expect(() => parseSelector("device")).toThrow(/not a label matcher/);
    expect(() => parseSelector("Device=x")).toThrow(/not a label matcher/);
  });

  it("formats a matcher back", () => {
    expect(formatSelector(parseSelector("device=~sd."))).toBe("device=~sd.");
  });
});
