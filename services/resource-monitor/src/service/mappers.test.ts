import { create } from "@bufbuild/protobuf";
import {
  AlertEventType,
  AlertMetric,
  AlertRuleSchema,
  AlertState,
  Comparison,
  MatchOperator,
  Severity,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import type { AlertRecord, AlertRuleRecord } from "../store/records.js";
import {
  alertEventToProto,
  alertToProto,
  ruleChangesFromProto,
  ruleFromProto,
  ruleToProto,
} from "./mappers.js";

const t0 = new Date("2026-01-01T00:00:00Z");

const rule: AlertRuleRecord = {
  id: "r1",
  version: 3,
  createTime: t0,
  updateTime: t0,
  name: "disk",
  metric: "host_filesystem_used_percent",
  selector: {},
  matchers: [{ name: "mount_point", operator: "NOT_EQUAL", value: "/boot" }],
  comparison: "GTE",
  threshold: 90,
  forMs: 60_000,
  severity: "CRITICAL",
  labels: { team: "ops" },
  enabled: true,
};

describe("ruleToProto() and ruleFromProto()", () => {
  it("round-trips a rule's fields", () => {
    const proto = ruleToProto(rule);
    expect(proto).toMatchObject({
      id: "r1",
      displayName: "disk",
      metric: AlertMetric.HOST_FILESYSTEM_USED_PERCENT,
      comparison: Comparison.GREATER_THAN_OR_EQUAL,
      severity: Severity.CRITICAL,
      etag: "v3",
      disabled: false,
    });
    expect(proto.selector[0]?.operator).toBe(MatchOperator.NOT_EQUAL);
    const { id: _i, version: _v, createTime: _c, updateTime: _u, ...fields } = rule;
    expect(ruleFromProto(proto)).toEqual({ ...fields, summary: undefined });
  });

  it("reads an old record's selector map as equality matchers", () => {
    const old = { ...rule, matchers: undefined, selector: { device: "sda" } };
    expect(ruleToProto(old).selector.map((m) => [m.name, m.operator, m.value])).toEqual([
      ["device", MatchOperator.EQUAL, "sda"],
    ]);
  });
});

describe("ruleChangesFromProto()", () => {
  it("takes only the fields the mask names", () => {
    const proto = create(AlertRuleSchema, {
      displayName: "x",
      threshold: 7,
      severity: Severity.INFO,
      selector: [{ name: "device", operator: MatchOperator.REGEX, value: "sd." }],
    });
    expect(ruleChangesFromProto(proto, ["threshold", "selector", "unknown"])).toEqual({
      threshold: 7,
      matchers: [{ name: "device", operator: "REGEX", value: "sd." }],
      selector: {},
    });
  });
});

describe("alertToProto() and alertEventToProto()", () => {
  const alert: AlertRecord = {
    id: "a1",
    ruleId: "r1",
    fingerprint: "f",
    state: "FIRING",
    labels: { node_id: "n" },
    value: 95,
    activeSince: t0,
    firedTime: t0,
    severity: "WARNING",
    version: 1,
    createTime: t0,
    updateTime: t0,
    outbox: [],
  };

  it("whitelists the alert's fields", () => {
    const proto = alertToProto(alert);
    expect(proto).toMatchObject({
      id: "a1",
      ruleId: "r1",
      state: AlertState.FIRING,
      severity: Severity.WARNING,
      value: 95,
      silencedBy: "",
    });
    expect(Object.keys(proto)).not.toContain("outbox");
    expect(Object.keys(proto)).not.toContain("fingerprint");
  });

  it("maps an event's type and previous state", () => {
    const e = alertEventToProto({
      id: "7-0",
      type: "alert.silenced",
      subject: "a1",
      time: t0,
      data: { alert: { ...alert, state: "INACTIVE" }, previousState: "PENDING" },
    } as unknown as Parameters<typeof alertEventToProto>[0]);
    expect(e).toMatchObject({
      eventId: "7-0",
      type: AlertEventType.SILENCED,
      previousState: AlertState.PENDING,
    });
    expect(e.alert?.state).toBe(AlertState.INACTIVE);
  });
});
