/**
 * Proto <-> domain for ResourceMonitorService: samples, rules, alerts and host health become
 * contract messages by whitelisting their fields (a new internal field cannot leak), and
 * contract requests become the domain's rule fields and store filters.
 */
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Alert,
  type AlertRule,
  AlertRuleSchema,
  AlertSchema,
  AlertState,
  CoreUsageSchema,
  CpuMetricsSchema,
  DiskIoMetricsSchema,
  FilesystemMetricsSchema,
  HealthCheckSchema,
  type HostHealth,
  HostHealthSchema,
  type HostMetrics,
  HostMetricsSchema,
  LabelMatcherSchema,
  type ListAlertRulesRequest,
  type ListAlertsRequest,
  LoadAverageSchema,
  MemoryMetricsSchema,
  NetworkInterfaceMetricsSchema,
  type ProcessMetrics,
  ProcessMetricsSchema,
  type ResourceUsage,
  ResourceUsageSchema,
  Severity,
  type WatchAlertsResponse,
  WatchAlertsResponseSchema,
} from "@lucid-rdp/gen";
import { durationMs } from "@lucid-rdp/runtime";
import type { BusEvent } from "@lucid-rdp/storage";
import type { AlertQuery, AlertRuleQuery } from "../alerting/alerts.js";
import type { AlertRule as DomainAlertRule } from "../domain/alert-rule.js";
import type { LabelMatchOperator } from "../domain/alert-values.js";
import type { HostHealthResult } from "../domain/host-health.js";
import type { ServerSample } from "../monitoring/server-sample.js";
import type { HostSample } from "../sampling/host-sampler.js";
import type { ProcessSample } from "../sampling/process-sampler.js";
import type { AlertRecord, AlertRuleRecord } from "../store/records.js";
import {
  alertEventTypeToProto,
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

/** A time as a Timestamp; undefined stays undefined. */
export const ts = (d: Date | number | undefined) =>
  d === undefined ? undefined : timestampFromDate(typeof d === "number" ? new Date(d) : d);

/** A count of bytes (or anything) as a uint64: rounded, never negative. */
function big(n: number): bigint {
  return BigInt(Math.max(0, Math.round(n)));
}

// ---- samples -------------------------------------------------------------------------------

/** A host sample as HostMetrics (with this machine's hostname). */
export function hostToProto(h: HostSample): HostMetrics {
  return create(HostMetricsSchema, {
    hostname: hostname(),
    sampleTime: ts(h.time),
    cpu: create(CpuMetricsSchema, {
      usagePercent: h.cpu.usageRatio * 100,
      userPercent: h.cpu.userRatio * 100,
      systemPercent: h.cpu.systemRatio * 100,
      iowaitPercent: h.cpu.iowaitRatio * 100,
      cores: h.cpu.cores.map((c) =>
        create(CoreUsageSchema, { core: c.core, usagePercent: c.usageRatio * 100 }),
      ),
    }),
    load: create(LoadAverageSchema, {
      load1: h.load.load1,
      load5: h.load.load5,
      load15: h.load.load15,
    }),
    memory: create(MemoryMetricsSchema, {
      totalBytes: big(h.memory.totalBytes),
      availableBytes: big(h.memory.availableBytes),
      usedBytes: big(h.memory.usedBytes),
      cachedBytes: big(h.memory.cachedBytes),
      swapTotalBytes: big(h.memory.swapTotalBytes),
      swapUsedBytes: big(h.memory.swapUsedBytes),
    }),
    filesystems: h.filesystems.map((f) =>
      create(FilesystemMetricsSchema, {
        mountPoint: f.mountPoint,
        device: f.device,
        fsType: f.fsType,
        sizeBytes: big(f.sizeBytes),
        usedBytes: big(f.usedBytes),
        availableBytes: big(f.availableBytes),
      }),
    ),
    diskIo: h.disks.map((d) =>
      create(DiskIoMetricsSchema, {
        device: d.device,
        readBytesTotal: big(d.readBytesTotal),
        writeBytesTotal: big(d.writeBytesTotal),
        readBytesPerSecond: d.readBytesPerSecond,
        writeBytesPerSecond: d.writeBytesPerSecond,
        utilizationPercent: d.utilizationRatio * 100,
      }),
    ),
    networkInterfaces: h.networkInterfaces.map((n) =>
      create(NetworkInterfaceMetricsSchema, {
        name: n.name,
        receiveBytesTotal: big(n.receiveBytesTotal),
        transmitBytesTotal: big(n.transmitBytesTotal),
        receiveBytesPerSecond: n.receiveBytesPerSecond,
        transmitBytesPerSecond: n.transmitBytesPerSecond,
        receiveErrorsTotal: big(n.receiveErrorsTotal),
        transmitErrorsTotal: big(n.transmitErrorsTotal),
      }),
    ),
    uptime: durationFromMs(Math.round(h.uptimeSeconds * 1000)),
    processCount: h.processCount,
  });
}

/** A process sample as ProcessMetrics. */
export function processToProto(p: ProcessSample): ProcessMetrics {
  return create(ProcessMetricsSchema, {
    pid: p.pid,
    ppid: p.ppid,
    name: p.name,
    startTime: ts(p.startTime),
    cpuPercent: p.cpuPercent,
    rssBytes: big(p.rssBytes),
    virtualBytes: big(p.virtualBytes),
    threads: p.threads,
    openFds: p.openFds,
    ioReadBytesTotal: p.ioReadBytesTotal === undefined ? undefined : big(p.ioReadBytesTotal),
    ioWriteBytesTotal: p.ioWriteBytesTotal === undefined ? undefined : big(p.ioWriteBytesTotal),
    sampleTime: ts(p.time),
  });
}

/** A server sample as ResourceUsage. */
export function usageToProto(s: ServerSample): ResourceUsage {
  return create(ResourceUsageSchema, {
    cpuPercent: s.cpuPercent,
    memoryRssBytes: big(s.rssBytes),
    processCount: s.processes.length,
    sampleTime: ts(s.time),
  });
}

// ---- alert rules ---------------------------------------------------------------------------

/** A stored rule as the contract's AlertRule (etag `v<version>`). */
export function ruleToProto(r: AlertRuleRecord): AlertRule {
  const matchers =
    r.matchers ??
    Object.entries(r.selector).map(([name, value]) => ({
      name,
      operator: "EQUAL" as const,
      value,
    }));
  return create(AlertRuleSchema, {
    id: r.id,
    displayName: r.name,
    metric: metricToProto(r.metric),
    selector: matchers.map((m) =>
      create(LabelMatcherSchema, {
        name: m.name,
        operator: matchOperatorToProto(m.operator),
        value: m.value,
      }),
    ),
    comparison: comparisonToProto(r.comparison),
    threshold: r.threshold,
    forDuration: durationFromMs(r.forMs),
    severity: severityToProto(r.severity),
    labels: { ...r.labels },
    summary: r.summary ?? "",
    disabled: !r.enabled,
    etag: `v${r.version}`,
    createTime: ts(r.createTime),
    updateTime: ts(r.updateTime),
  });
}

/** The rule fields of a contract AlertRule, in domain names (not yet validated). */
export type RuleFields = Omit<DomainAlertRule, "id">;

/** The rule fields of a contract AlertRule (its names, not yet validated). */
export function ruleFromProto(r: AlertRule) {
  return {
    name: r.displayName,
    metric: metricFromProto(r.metric),
    selector: {},
    matchers: r.selector.map((m) => ({
      name: m.name,
      // Validation admits only the four defined operators, which the domain names alike.
      operator: matchOperatorFromProto(m.operator) as LabelMatchOperator,
      value: m.value,
    })),
    comparison: comparisonFromProto(r.comparison) as DomainAlertRule["comparison"],
    threshold: r.threshold,
    forMs: r.forDuration ? (durationMs(r.forDuration) as number) : 0,
    severity: severityFromProto(r.severity) as DomainAlertRule["severity"],
    labels: { ...r.labels },
    summary: r.summary || undefined,
    enabled: !r.disabled,
  } satisfies RuleFields;
}

/** The rule fields each update-mask path (proto names) sets. */
const maskFields: Readonly<Record<string, readonly (keyof RuleFields)[]>> = {
  display_name: ["name"],
  metric: ["metric"],
  selector: ["matchers", "selector"],
  comparison: ["comparison"],
  threshold: ["threshold"],
  for_duration: ["forMs"],
  severity: ["severity"],
  labels: ["labels"],
  summary: ["summary"],
  disabled: ["enabled"],
};

/** The changes an UpdateAlertRule asks for: the fields of `rule` its mask `paths` name. */
export function ruleChangesFromProto(
  rule: AlertRule,
  paths: readonly string[],
): Partial<RuleFields> {
  const all = ruleFromProto(rule);
  const changes: Record<string, unknown> = {};
  for (const path of paths) {
    for (const key of maskFields[path] ?? []) changes[key] = all[key];
  }
  return changes as Partial<RuleFields>;
}

/** ListAlertRules' filters as an alert rule query. */
export function ruleFilterFromProto(
  req: ListAlertRulesRequest,
): Pick<AlertRuleQuery, "metric" | "severity"> {
  return {
    ...(req.metric ? { metric: metricFromProto(req.metric) } : {}),
    ...(req.severity
      ? { severity: severityFromProto(req.severity) as AlertRuleRecord["severity"] }
      : {}),
  };
}

// ---- alerts --------------------------------------------------------------------------------

/** A stored alert (or one an event carries, possibly INACTIVE) as the contract's Alert. */
export function alertToProto(a: AlertRecord & { state: string }): Alert {
  return create(AlertSchema, {
    id: a.id,
    ruleId: a.ruleId,
    state: alertStateToProto(a.state) ?? AlertState.UNSPECIFIED,
    severity: a.severity ? severityToProto(a.severity) : Severity.UNSPECIFIED,
    labels: { ...a.labels },
    summary: a.summary ?? "",
    value: a.value,
    threshold: a.threshold ?? 0,
    activeTime: ts(a.activeSince ? new Date(a.activeSince) : undefined),
    fireTime: ts(a.firedTime ? new Date(a.firedTime) : undefined),
    resolveTime: ts(a.resolvedTime ? new Date(a.resolvedTime) : undefined),
    silencedUntil: ts(a.silencedUntil ? new Date(a.silencedUntil) : undefined),
    silencedBy: a.silencedBy ?? "",
    silenceComment: a.silenceComment ?? "",
    lastEvaluationTime: ts(a.lastEvaluationTime ? new Date(a.lastEvaluationTime) : undefined),
    createTime: ts(a.createTime ? new Date(a.createTime) : undefined),
    updateTime: ts(a.updateTime ? new Date(a.updateTime) : undefined),
  });
}

/** ListAlerts' filters (but `silenced`, which the store cannot filter) as an alert query. */
export function alertFilterFromProto(
  req: ListAlertsRequest,
): Pick<AlertQuery, "states" | "ruleId" | "severity"> {
  const states = req.states
    .map(alertStateFromProto)
    .filter((s): s is AlertRecord["state"] => s !== undefined && s !== "INACTIVE");
  return {
    ...(states.length > 0 ? { states } : {}),
    ...(req.ruleId ? { ruleId: req.ruleId } : {}),
    ...(req.severity
      ? { severity: severityFromProto(req.severity) as AlertRecord["severity"] }
      : {}),
  };
}

/** What the bus carries for an alert event (family "alert"). */
export type AlertBusEvent = BusEvent<{
  alert: AlertRecord & { state: string };
  previousState?: string;
}>;

/** An alert event of the bus as a WatchAlertsResponse. */
export function alertEventToProto(e: AlertBusEvent): WatchAlertsResponse {
  return create(WatchAlertsResponseSchema, {
    eventId: e.id,
    type: alertEventTypeToProto(e.type),
    eventTime: ts(e.time),
    alert: alertToProto(e.data.alert),
    previousState: e.data.previousState ? alertStateToProto(e.data.previousState) : undefined,
  });
}

// ---- host health ---------------------------------------------------------------------------

/** A health evaluation as HostHealth (with this machine's hostname). */
export function hostHealthToProto(result: HostHealthResult): HostHealth {
  return create(HostHealthSchema, {
    hostname: hostname(),
    status: hostHealthStatusToProtoTable[result.status],
    checks: result.checks.map((c) =>
      create(HealthCheckSchema, {
        name: c.name,
        fatal: c.fatal,
        status: healthCheckStatusToProtoTable[c.status],
        message: c.message,
        lastCheckTime: ts(c.lastCheckTime),
        lastTransitionTime: ts(c.lastTransitionTime),
      }),
    ),
    checkTime: ts(result.checkTime),
  });
}
