import { describe, expect, it } from "vitest";
import { iniLine } from "./ini-format.js";
import { iniError, injections, wholeValues } from "./ini-test-fixtures.js";

describe("iniLine()", () => {
  it("is the last line of defence: rejects every injection whatever the field said", () => {
    for (const [label, payload] of injections) {
      for (const value of [`tls${payload}`, `${payload}tls`]) {
        expect(
          iniError(() => iniLine("settings.security_layer", "security_layer", value)).field,
          label,
        ).toBe("settings.security_layer");
      }
    }
    for (const [label, value] of wholeValues) {
      expect(iniError(() => iniLine("f", "k", value)).field, label).toBe("f");
    }
    for (const key of ["", "a b", "a=b", "[x]", "#k", "k;", "k\n", "é"]) {
      expect(iniError(() => iniLine("f", key, "v")).field).toBe("f");
    }
  });

  it("accepts a line of 2047 bytes and rejects one of 2048", () => {
    expect(iniLine("f", "k", "v".repeat(2045))).toHaveLength(2047);
    expect(iniError(() => iniLine("f", "k", "v".repeat(2046))).reason).toContain("2048 bytes");
  });
});
