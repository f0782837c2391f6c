/** Alerts and alert rules as tables. */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type Alert,
  AlertEventTypeSchema,
  AlertMetricSchema,
  type AlertRule,
  AlertStateSchema,
  Comparison,
  SeveritySchema,
  type WatchAlertsResponse,
} from "@lucid-rdp/gen";
import { formatSelector } from "../parse/parse-selector.js";
import { formatDuration } from "./duration.js";
import { enumName } from "./enum-name.js";
import { pairsText } from "./pairs.js";
import { renderTable } from "./table.js";
import { localTime, when } from "./time.js";
import { tone } from "./tone.js";

/** Comparison operators as symbols. */
export const comparisonSymbols: Readonly<Record<string, Comparison>> = {
  ">": Comparison.GREATER_THAN,
  ">=": Comparison.GREATER_THAN_OR_EQUAL,
  "<": Comparison.LESS_THAN,
  "<=": Comparison.LESS_THAN_OR_EQUAL,
  "==": Comparison.EQUAL,
  "!=": Comparison.NOT_EQUAL,
};

const symbol = (c: Comparison) =>
  Object.entries(comparisonSymbols).find(([, v]) => v === c)?.[0] ?? "?";

const labelText = (labels: Record<string, string>) => pairsText(labels, ",");

const silenced = (a: Alert, now: Date) =>
  a.silencedUntil !== undefined && timestampDate(a.silencedUntil) > now;

/** The state an operator should see: a silenced alert says so. */
export function alertStateText(a: Alert, now: Date): string {
  const state = tone(enumName(AlertStateSchema, a.state));
  return silenced(a, now) ? `${state} (silenced)` : state;
}

/** One line per alert. */
export function alertTable(alerts: readonly Alert[], now: Date): string {
  return renderTable(
    [
      "ID",
      "STATE",
      "SEVERITY",
      "VALUE",
      "THRESHOLD",
      "LABELS",
      "SINCE",
      "SILENCED UNTIL",
      "SUMMARY",
    ],
    alerts.map((a) => [
      a.id,
      alertStateText(a, now),
      tone(enumName(SeveritySchema, a.severity)),
      String(Number(a.value.toFixed(2))),
      String(a.threshold),
      labelText(a.labels),
      when(a.fireTime ?? a.activeTime ?? a.createTime, now),
      silenced(a, now)
        ? `${when(a.silencedUntil, now)}${a.silencedBy ? ` by ${a.silencedBy}` : ""}`
        : "",
      a.summary,
    ]),
  );
}

/** One line per WatchAlerts event. */
export function alertEventLine(e: WatchAlertsResponse, now: Date): string {
  const a = e.alert;
  const time = e.eventTime ? localTime(timestampDate(e.eventTime)) : "";
  const type = enumName(AlertEventTypeSchema, e.type);
  const state = a ? alertStateText(a, now) : "";
  const prev = enumName(AlertStateSchema, e.previousState);
  return `${time}  ${type.padEnd(14)}  ${a?.id ?? ""}  ${prev ? `${prev} -> ` : ""}${state}  ${a ? labelText(a.labels) : ""}`;
}

/** The condition of a rule: `HOST_CPU_USAGE_PERCENT > 90 for 5m`. */
export function ruleCondition(r: AlertRule): string {
  const d = r.forDuration;
  const lasting = d !== undefined && (d.seconds > 0n || d.nanos > 0);
  return `${enumName(AlertMetricSchema, r.metric)} ${symbol(r.comparison)} ${r.threshold}${lasting ? ` for ${formatDuration(d)}` : ""}`;
}

/** One line per rule. */
export function ruleTable(rules: readonly AlertRule[], now: Date): string {
  return renderTable(
    ["ID", "NAME", "CONDITION", "SELECTOR", "SEVERITY", "ENABLED", "LABELS", "UPDATED"],
    rules.map((r) => [
      r.id,
      r.displayName,
      ruleCondition(r),
      r.selector.map(formatSelector).join(","),
      tone(enumName(SeveritySchema, r.severity)),
      r.disabled ? "no" : "yes",
      labelText(r.labels),
      when(r.updateTime, now),
    ]),
  );
}
