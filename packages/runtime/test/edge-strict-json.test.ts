/**
 * Strict request JSON: each failure names its field path (proto names), through nested messages,
 * lists, maps and the well-known types whose decode errors do not say where they are.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { InstanceSchema } from "@lucid-rdp/gen/lucid/rdp/v1/instance_pb.js";
import { UpdateAlertRuleRequestSchema } from "@lucid-rdp/gen/lucid/rdp/v1/resource_monitor_service_pb.js";
import { describe, expect, it } from "vitest";
import { checkJsonStrict, decodeJsonStrict } from "../src/edge/strict-json.js";
import { BadRequestSchema } from "../src/gen/google/rpc/error_details_pb.js";

function failure(run: () => unknown): ConnectError {
  try {
    run();
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected a failure");
}

const fieldOf = (e: ConnectError) =>
  e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field))[0];

describe("checkJsonStrict()", () => {
  const cases: { name: string; json: unknown; field: string }[] = [
    {
      name: "a FieldMask path that is not lowerCamelCase",
      json: { updateMask: "display_name" },
      field: "update_mask",
    },
    {
      name: "a FieldMask that is not a string",
      json: { update_mask: -1 },
      field: "update_mask",
    },
    {
      name: "a Duration in a nested message",
      json: { alertRule: { forDuration: "-1" } },
      field: "alert_rule.for_duration",
    },
    {
      name: "an unknown field in a list item",
      json: { alertRule: { selector: [{}, { nope: 1 }] } },
      field: "alert_rule.selector[1].nope",
    },
    {
      name: "a map value of the wrong type",
      json: { alertRule: { labels: { team: 7 } } },
      field: "alert_rule.labels",
    },
  ];
  for (const { name, json, field } of cases) {
    it(`names ${field} for ${name}`, () => {
      const e = failure(() => checkJsonStrict(UpdateAlertRuleRequestSchema, json as never));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(fieldOf(e)).toBe(field);
      expect(e.rawMessage).not.toMatch(/Invalid count value/);
    });
  }

  it("names a Timestamp that is not RFC 3339", () => {
    const e = failure(() => checkJsonStrict(InstanceSchema, { createTime: "yesterday" }));
    expect(fieldOf(e)).toBe("create_time");
  });

  it("accepts json names, proto names, enum names and numbers", () => {
    checkJsonStrict(UpdateAlertRuleRequestSchema, {
      alert_rule: { displayName: "x", for_duration: "1.5s", selector: [] },
      updateMask: "displayName,forDuration",
    });
  });
});

describe("decodeJsonStrict()", () => {
  it("refuses invalid UTF-8 and text that is not JSON", () => {
    const bad = Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d);
    expect(failure(() => decodeJsonStrict(InstanceSchema, bad)).rawMessage).toMatch(/UTF-8/);
    const notJson = new TextEncoder().encode("{");
    expect(failure(() => decodeJsonStrict(InstanceSchema, notJson)).rawMessage).toMatch(/JSON/);
  });
});
