/**
 * The proto enums <-> the domain's string unions, as explicit tables in both directions, so that
 * nothing depends on the order of an enum's values. UNSPECIFIED has no domain value: reading it
 * (or a value this build does not know) gives the fallback each reader documents, which the
 * domain's validation then rejects with a message naming it.
 */
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
import type { AlertEventType, AlertLifecycleState } from "../domain/alert-engine.js";
import type { Comparison, LabelMatchOperator, Severity } from "../domain/alert-values.js";
import type { HealthCheckStatus, HostHealthStatus } from "../domain/host-health.js";
import type { MetricName } from "../domain/metrics-catalog.js";

/** A proto enum without its zero value. */
type Specified<E extends number> = Exclude<E, 0>;

/** `table[key]` when `key` is one of its own keys, else undefined. */
function lookup<V>(table: object, key: PropertyKey): V | undefined {
  return Object.hasOwn(table, key) ? (table as Record<PropertyKey, V>)[key] : undefined;
}

// ---- AlertMetric ---------------------------------------------------------------------------

/** AlertMetric -> the catalog's metric name. */
export const metricFromProtoTable: Readonly<Record<Specified<AlertMetric>, MetricName>> = {
  [AlertMetric.HOST_CPU_USAGE_PERCENT]: "host_cpu_usage_percent",
  [AlertMetric.HOST_LOAD1]: "host_load1",
  [AlertMetric.HOST_LOAD5]: "host_load5",
  [AlertMetric.HOST_LOAD15]: "host_load15",
  [AlertMetric.HOST_MEMORY_USED_PERCENT]: "host_memory_used_percent",
  [AlertMetric.HOST_SWAP_USED_PERCENT]: "host_swap_used_percent",
  [AlertMetric.HOST_FILESYSTEM_USED_PERCENT]: "host_filesystem_used_percent",
  [AlertMetric.HOST_DISK_READ_BYTES_PER_SECOND]: "host_disk_read_bytes_per_second",
  [AlertMetric.HOST_DISK_WRITE_BYTES_PER_SECOND]: "host_disk_write_bytes_per_second",
  [AlertMetric.HOST_NETWORK_RECEIVE_BYTES_PER_SECOND]: "host_network_receive_bytes_per_second",
  [AlertMetric.HOST_NETWORK_TRANSMIT_BYTES_PER_SECOND]: "host_network_transmit_bytes_per_second",
  [AlertMetric.SERVER_CPU_PERCENT]: "server_cpu_percent",
  [AlertMetric.SERVER_MEMORY_RSS_BYTES]: "server_memory_rss_bytes",
};

/** The catalog's metric name -> AlertMetric. */
export const metricToProtoTable: Readonly<Record<MetricName, Specified<AlertMetric>>> = {
  host_cpu_usage_percent: AlertMetric.HOST_CPU_USAGE_PERCENT,
  host_load1: AlertMetric.HOST_LOAD1,
  host_load5: AlertMetric.HOST_LOAD5,
  host_load15: AlertMetric.HOST_LOAD15,
  host_memory_used_percent: AlertMetric.HOST_MEMORY_USED_PERCENT,
  host_swap_used_percent: AlertMetric.HOST_SWAP_USED_PERCENT,
  host_filesystem_used_percent: AlertMetric.HOST_FILESYSTEM_USED_PERCENT,
  host_disk_read_bytes_per_second: AlertMetric.HOST_DISK_READ_BYTES_PER_SECOND,
  host_disk_write_bytes_per_second: AlertMetric.HOST_DISK_WRITE_BYTES_PER_SECOND,
  host_network_receive_bytes_per_second: AlertMetric.HOST_NETWORK_RECEIVE_BYTES_PER_SECOND,
  host_network_transmit_bytes_per_second: AlertMetric.HOST_NETWORK_TRANSMIT_BYTES_PER_SECOND,
  server_cpu_percent: AlertMetric.SERVER_CPU_PERCENT,
  server_memory_rss_bytes: AlertMetric.SERVER_MEMORY_RSS_BYTES,
};

/** The metric name of `m`; `unknown_metric_<n>` for UNSPECIFIED or an unknown value. */
export function metricFromProto(m: AlertMetric): string {
  return lookup<MetricName>(metricFromProtoTable, m) ?? `unknown_metric_${m}`;
}

/** The AlertMetric of `name`; UNSPECIFIED for a name the catalog does not have. */
export function metricToProto(name: string): AlertMetric {
  return lookup<AlertMetric>(metricToProtoTable, name) ?? AlertMetric.UNSPECIFIED;
}

// ---- Comparison ----------------------------------------------------------------------------

/** Comparison of the proto -> the domain's. */
export const comparisonFromProtoTable: Readonly<Record<Specified<ProtoComparison>, Comparison>> = {
  [ProtoComparison.GREATER_THAN]: "GT",
  [ProtoComparison.GREATER_THAN_OR_EQUAL]: "GTE",
  [ProtoComparison.LESS_THAN]: "LT",
  [ProtoComparison.LESS_THAN_OR_EQUAL]: "LTE",
  [ProtoComparison.EQUAL]: "EQ",
  [ProtoComparison.NOT_EQUAL]: "NE",
};

/** The domain's comparison -> the proto's. */
export const comparisonToProtoTable: Readonly<Record<Comparison, Specified<ProtoComparison>>> = {
  GT: ProtoComparison.GREATER_THAN,
  GTE: ProtoComparison.GREATER_THAN_OR_EQUAL,
  LT: ProtoComparison.LESS_THAN,
  LTE: ProtoComparison.LESS_THAN_OR_EQUAL,
  EQ: ProtoComparison.EQUAL,
  NE: ProtoComparison.NOT_EQUAL,
};

/** The domain's comparison of `c`; "UNSPECIFIED" for UNSPECIFIED or an unknown value. */
export function comparisonFromProto(c: ProtoComparison): Comparison | "UNSPECIFIED" {
  return lookup<Comparison>(comparisonFromProtoTable, c) ?? "UNSPECIFIED";
}

/** The proto's comparison of `c`; UNSPECIFIED for an unknown one. */
export function comparisonToProto(c: string): ProtoComparison {
  return lookup<ProtoComparison>(comparisonToProtoTable, c) ?? ProtoComparison.UNSPECIFIED;
}

// ---- Severity ------------------------------------------------------------------------------

/** Severity of the proto -> the domain's. */
export const severityFromProtoTable: Readonly<Record<Specified<ProtoSeverity>, Severity>> = {
  [ProtoSeverity.INFO]: "INFO",
  [ProtoSeverity.WARNING]: "WARNING",
  [ProtoSeverity.CRITICAL]: "CRITICAL",
};

/** The domain's severity -> the proto's. */
export const severityToProtoTable: Readonly<Record<Severity, Specified<ProtoSeverity>>> = {
  INFO: ProtoSeverity.INFO,
  WARNING: ProtoSeverity.WARNING,
  CRITICAL: ProtoSeverity.CRITICAL,
};

/** The domain's severity of `s`; "UNSPECIFIED" for UNSPECIFIED or an unknown value. */
export function severityFromProto(s: ProtoSeverity): Severity | "UNSPECIFIED" {
  return lookup<Severity>(severityFromProtoTable, s) ?? "UNSPECIFIED";
}

/** The proto's severity of `s`; UNSPECIFIED for an unknown one. */
export function severityToProto(s: string): ProtoSeverity {
  return lookup<ProtoSeverity>(severityToProtoTable, s) ?? ProtoSeverity.UNSPECIFIED;
}

// ---- MatchOperator -------------------------------------------------------------------------

/** MatchOperator of the proto -> the domain's. */
export const matchOperatorFromProtoTable: Readonly<
  Record<Specified<MatchOperator>, LabelMatchOperator>
> = {
  [MatchOperator.EQUAL]: "EQUAL",
  [MatchOperator.NOT_EQUAL]: "NOT_EQUAL",
  [MatchOperator.REGEX]: "REGEX",
  [MatchOperator.NOT_REGEX]: "NOT_REGEX",
};

/** The domain's match operator -> the proto's. */
export const matchOperatorToProtoTable: Readonly<
  Record<LabelMatchOperator, Specified<MatchOperator>>
> = {
  EQUAL: MatchOperator.EQUAL,
  NOT_EQUAL: MatchOperator.NOT_EQUAL,
  REGEX: MatchOperator.REGEX,
  NOT_REGEX: MatchOperator.NOT_REGEX,
};

/**
 * The domain's operator of `op`; "UNSPECIFIED" for UNSPECIFIED or an unknown value (which the
 * edge's validation refuses before, and the rule's validation names if not).
 */
export function matchOperatorFromProto(op: MatchOperator): LabelMatchOperator | "UNSPECIFIED" {
  return lookup<LabelMatchOperator>(matchOperatorFromProtoTable, op) ?? "UNSPECIFIED";
}

/** The proto's operator of `op`. */
export function matchOperatorToProto(op: LabelMatchOperator): MatchOperator {
  return lookup<MatchOperator>(matchOperatorToProtoTable, op) ?? MatchOperator.UNSPECIFIED;
}

// ---- AlertState ----------------------------------------------------------------------------

/** AlertState of the proto -> the domain's lifecycle state. */
export const alertStateFromProtoTable: Readonly<
  Record<Specified<ProtoAlertState>, AlertLifecycleState>
> = {
  [ProtoAlertState.INACTIVE]: "INACTIVE",
  [ProtoAlertState.PENDING]: "PENDING",
  [ProtoAlertState.FIRING]: "FIRING",
  [ProtoAlertState.RESOLVED]: "RESOLVED",
};

/** The domain's lifecycle state -> the proto's AlertState. */
export const alertStateToProtoTable: Readonly<
  Record<AlertLifecycleState, Specified<ProtoAlertState>>
> = {
  INACTIVE: ProtoAlertState.INACTIVE,
  PENDING: ProtoAlertState.PENDING,
  FIRING: ProtoAlertState.FIRING,
  RESOLVED: ProtoAlertState.RESOLVED,
};

/** The domain's state of `s`; undefined for UNSPECIFIED or an unknown value. */
export function alertStateFromProto(s: ProtoAlertState): AlertLifecycleState | undefined {
  return lookup<AlertLifecycleState>(alertStateFromProtoTable, s);
}

/** The proto's state of `s`; undefined for an unknown one. */
export function alertStateToProto(s: string): ProtoAlertState | undefined {
  return lookup<ProtoAlertState>(alertStateToProtoTable, s);
}

// ---- AlertEventType ------------------------------------------------------------------------

/** The domain's event type -> the proto's AlertEventType. */
export const alertEventTypeToProtoTable: Readonly<
  Record<AlertEventType, Specified<ProtoAlertEventType>>
> = {
  "alert.pending": ProtoAlertEventType.STATE_CHANGED,
  "alert.firing": ProtoAlertEventType.STATE_CHANGED,
  "alert.resolved": ProtoAlertEventType.STATE_CHANGED,
  "alert.inactive": ProtoAlertEventType.STATE_CHANGED,
  "alert.silenced": ProtoAlertEventType.SILENCED,
  "alert.unsilenced": ProtoAlertEventType.UNSILENCED,
};

/** The proto's event type of a bus event's `type`; STATE_CHANGED for any other type. */
export function alertEventTypeToProto(type: string): ProtoAlertEventType {
  return (
    lookup<ProtoAlertEventType>(alertEventTypeToProtoTable, type) ??
    ProtoAlertEventType.STATE_CHANGED
  );
}

// ---- host health ---------------------------------------------------------------------------

/** The domain's host health status -> the proto's. */
export const hostHealthStatusToProtoTable: Readonly<
  Record<HostHealthStatus, Specified<ProtoHostHealthStatus>>
> = {
  HEALTHY: ProtoHostHealthStatus.HEALTHY,
  DEGRADED: ProtoHostHealthStatus.DEGRADED,
  UNHEALTHY: ProtoHostHealthStatus.UNHEALTHY,
};

/** The domain's health check status -> the proto's. */
export const healthCheckStatusToProtoTable: Readonly<
  Record<HealthCheckStatus, Specified<ProtoHealthCheckStatus>>
> = {
  PASSING: ProtoHealthCheckStatus.PASSING,
  FAILING: ProtoHealthCheckStatus.FAILING,
  UNKNOWN: ProtoHealthCheckStatus.UNKNOWN,
};
