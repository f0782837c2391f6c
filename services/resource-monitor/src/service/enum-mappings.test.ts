import {
  AlertMetric,
  MatchOperator,
  AlertEventType as ProtoAlertEventType,
  AlertState as ProtoAlertState,
  Comparison as ProtoComparison,
  HealthCheckStatus as ProtoHealthCheckStatus,
  HostHealthStatus as ProtoHostHealthStatus,
  Severity as ProtoSeverity,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { metricCatalog, metricNames } from "../domain/metrics-catalog.js";
import {
  alertEventTypeToProto,
  alertEventTypeToProtoTable,
  alertStateFromProto,
  alertStateToProto,
  comparisonFromProto,
  comparisonToProto,
  healthCheckStatusToProtoTable,
  hostHealthStatusToProtoTable,
  matchOperatorFromProto,
  matchOperatorToProto,
  metricFromProto,
  metricToProto,
  severityFromProto,
  severityToProto,
} from "./enum-mappings.js";

/** Every value of a generated enum but UNSPECIFIED (0). */
function specified(e: object): number[] {
  return Object.values(e).filter((v): v is number => typeof v === "number" && v !== 0);
}

describe("enum mappings", () => {
  it("maps every AlertMetric to a catalog metric and back", () => {
    const seen = new Set<string>();
    for (const m of specified(AlertMetric)) {
      const name = metricFromProto(m);
      expect(Object.hasOwn(metricCatalog, name), `${AlertMetric[m]} -> ${name}`).toBe(true);
      expect(name).toBe(AlertMetric[m]?.toLowerCase());
      expect(metricToProto(name)).toBe(m);
      seen.add(name);
    }
    expect([...seen].sort()).toEqual([...metricNames].sort());
  });

  it("maps every Comparison and back", () => {
    const seen = new Set<string>();
    for (const c of specified(ProtoComparison)) {
      const d = comparisonFromProto(c);
      expect(d).not.toBe("UNSPECIFIED");
      expect(comparisonToProto(d)).toBe(c);
      seen.add(d);
    }
    expect([...seen].sort()).toEqual(["EQ", "GT", "GTE", "LT", "LTE", "NE"]);
  });

  it("maps every Severity and back", () => {
    for (const s of specified(ProtoSeverity)) {
      const d = severityFromProto(s);
      expect(d).toBe(ProtoSeverity[s]);
      expect(severityToProto(d)).toBe(s);
    }
  });

  it("maps every MatchOperator and back", () => {
    for (const op of specified(MatchOperator)) {
      const d = matchOperatorFromProto(op);
      expect(d).toBe(MatchOperator[op]);
      expect(matchOperatorToProto(d as Exclude<typeof d, "UNSPECIFIED">)).toBe(op);
    }
  });

  it("maps every AlertState and back", () => {
    for (const s of specified(ProtoAlertState)) {
      const d = alertStateFromProto(s);
      expect(d).toBe(ProtoAlertState[s]);
      expect(alertStateToProto(d as string)).toBe(s);
    }
  });

  it("reaches every AlertEventType from the domain's event types", () => {
    const reached = new Set(Object.values(alertEventTypeToProtoTable));
    expect([...reached].sort()).toEqual(specified(ProtoAlertEventType).sort());
    expect(alertEventTypeToProto("alert.silenced")).toBe(ProtoAlertEventType.SILENCED);
    expect(alertEventTypeToProto("alert.unsilenced")).toBe(ProtoAlertEventType.UNSILENCED);
    expect(alertEventTypeToProto("alert.firing")).toBe(ProtoAlertEventType.STATE_CHANGED);
  });

  it("reaches every HostHealthStatus and HealthCheckStatus, by the same name", () => {
    for (const [table, e] of [
      [hostHealthStatusToProtoTable, ProtoHostHealthStatus],
      [healthCheckStatusToProtoTable, ProtoHealthCheckStatus],
    ] as const) {
      const entries = Object.entries(table) as [string, number][];
      for (const [name, value] of entries) expect((e as Record<number, string>)[value]).toBe(name);
      expect(entries.map(([, v]) => v).sort()).toEqual(specified(e).sort());
    }
  });

  it("keeps the fallbacks of UNSPECIFIED and unknown values", () => {
    expect(metricFromProto(AlertMetric.UNSPECIFIED)).toBe("unknown_metric_0");
    expect(metricFromProto(99 as AlertMetric)).toBe("unknown_metric_99");
    expect(metricToProto("no_such_metric")).toBe(AlertMetric.UNSPECIFIED);
    expect(metricToProto("constructor")).toBe(AlertMetric.UNSPECIFIED);
    expect(comparisonFromProto(ProtoComparison.UNSPECIFIED)).toBe("UNSPECIFIED");
    expect(comparisonToProto("UNSPECIFIED")).toBe(ProtoComparison.UNSPECIFIED);
    expect(severityFromProto(ProtoSeverity.UNSPECIFIED)).toBe("UNSPECIFIED");
    expect(severityToProto("")).toBe(ProtoSeverity.UNSPECIFIED);
    expect(matchOperatorFromProto(MatchOperator.UNSPECIFIED)).toBe("UNSPECIFIED");
    expect(alertStateFromProto(ProtoAlertState.UNSPECIFIED)).toBeUndefined();
    expect(alertStateToProto("SLEEPING")).toBeUndefined();
  });
});
