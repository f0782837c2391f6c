import { create } from "@bufbuild/protobuf";
import {
  CreateAlertRuleRequestSchema,
  ListSessionsResponseSchema,
  SessionSchema,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { timeFieldViolations } from "./time-field-violations.js";

describe("timeFieldViolations()", () => {
  it("names a nested Duration by its path", () => {
    const req = create(CreateAlertRuleRequestSchema, {
      alertRule: { forDuration: { seconds: 1n, nanos: -1 } },
    });
    expect(timeFieldViolations(CreateAlertRuleRequestSchema, req)).toEqual([
      { field: "alert_rule.for_duration", description: "nanos must have the sign of seconds" },
    ]);
  });

  it("names a Timestamp in a list item by its index, and each bad one", () => {
    const ok = { seconds: 1_700_000_000n, nanos: 0 };
    const res = create(ListSessionsResponseSchema, {
      sessions: [
        create(SessionSchema, { createTime: ok }),
        create(SessionSchema, { createTime: { seconds: 1n, nanos: -1 }, updateTime: ok }),
        create(SessionSchema, { readyTime: { seconds: 1n, nanos: 1_000_000_000 } }),
      ],
    });
    expect(timeFieldViolations(ListSessionsResponseSchema, res).map((v) => v.field)).toEqual([
      "sessions[1].create_time",
      "sessions[2].ready_time",
    ]);
  });

  it("finds nothing in a message without time fields, or with valid ones", () => {
    const none = create(ListSessionsResponseSchema, {});
    expect(timeFieldViolations(ListSessionsResponseSchema, none)).toEqual([]);
    const negative = create(CreateAlertRuleRequestSchema, {
      alertRule: { forDuration: { seconds: -1n, nanos: -999_999_999 } },
    });
    expect(timeFieldViolations(CreateAlertRuleRequestSchema, negative)).toEqual([]);
  });
});
