import {
  AlertMetric,
  AlertMetricSchema,
  ComparisonSchema,
  SessionState,
  SessionStateSchema,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { enumChoices, parseEnum } from "./parse-enum.js";

describe("parseEnum()", () => {
  it("takes short names in any case, with - for _, and full proto names", () => {
    expect(parseEnum(SessionStateSchema, "ready")).toBe(SessionState.READY);
    expect(parseEnum(SessionStateSchema, "FAILED")).toBe(SessionState.FAILED);
    expect(parseEnum(SessionStateSchema, "SESSION_STATE_ACTIVE")).toBe(SessionState.ACTIVE);
    expect(parseEnum(AlertMetricSchema, "host-cpu-usage-percent")).toBe(
      AlertMetric.HOST_CPU_USAGE_PERCENT,
    );
  });

  it("takes aliases", () => {
    expect(parseEnum(ComparisonSchema, ">=", { ">=": "GREATER_THAN_OR_EQUAL" })).toBe(2);
  });

  it("rejects the zero value and unknown names, listing the choices", () => {
    expect(() => parseEnum(SessionStateSchema, "unspecified")).toThrow(/not one of: pending/);
    expect(() => parseEnum(SessionStateSchema, "readyy")).toThrow(/"readyy" is not one of/);
  });

  it("lists every value but the zero one", () => {
    expect(enumChoices(SessionStateSchema)).toEqual([
      "pending",
      "provisioning",
      "ready",
      "active",
      "disconnected",
      "terminating",
      "terminated",
      "failed",
    ]);
  });
});
