/** The ResourceMonitorService handlers: contract messages in, monitor and alerts, messages out. */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  ConnectError,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import {
  type Alert,
  AlertEventType,
  type AlertMetric,
  type AlertRule,
  AlertRuleSchema,
  AlertSchema,
  AlertState,
  type Comparison,
  CoreUsageSchema,
  CpuMetricsSchema,
  CreateAlertRuleResponseSchema,
  DeleteAlertRuleResponseSchema,
  DiskIoMetricsSchema,
  FilesystemMetricsSchema,
  GetAlertRuleResponseSchema,
  GetHostHealthResponseSchema,
  GetHostMetricsResponseSchema,
  GetProcessMetricsResponseSchema,
  GetServerUsageResponseSchema,
  HealthCheckSchema,
  HealthCheckStatus,
  HostHealthSchema,
  HostHealthStatus,
  type HostMetrics,
  HostMetricsSchema,
  LabelMatcherSchema,
  ListAlertRulesResponseSchema,
  ListAlertsResponseSchema,
  LoadAverageSchema,
  MatchOperator,
  MemoryMetricsSchema,
  NetworkInterfaceMetricsSchema,
  type ProcessMetrics,
  ProcessMetricsSchema,
  type ResourceMonitorService,
  ResourceUsageSchema,
  ServerUsageSchema,
  type SessionControllerService,
  Severity,
  SilenceAlertResponseSchema,
  UpdateAlertRuleResponseSchema,
  WatchAlertsResponseSchema,
  WatchMetricsResponseSchema,
} from "@lucid-rdp/gen";
import { durationMs, type Principal, principalKey } from "@lucid-rdp/runtime";
import {
  type BusEvent,
  type EventBus,
  type IdempotencyStore,
  runIdempotent,
} from "@lucid-rdp/storage";
import type { Alerts } from "../alerts/alerts.js";
import type { LabelMatchOperator } from "../domain/alert-values.js";
import { evaluateHostHealth, type HostHealthResult } from "../domain/host-health.js";
import { metricNames } from "../domain/metrics-catalog.js";
import type { Monitor, ServerSample } from "../monitor.js";
import type { HostSample } from "../sampling/host-sampler.js";
import type { ProcessSample, ProcessSampler } from "../sampling/process-sampler.js";
import type { AlertRecord, AlertRuleRecord } from "../store/records.js";
import type { AlertRuleStore, AlertStore } from "../store/stores.js";

type Impl = ServiceImpl<typeof ResourceMonitorService>;

export interface ResourceMonitorDeps {
  readonly monitor: Monitor;
  readonly alerts: Alerts;
  readonly rules: AlertRuleStore;
  readonly alertStore: AlertStore;
  readonly idempotency: IdempotencyStore;
  readonly idempotencyTtlMs: number;
  readonly bus: EventBus;
  /** A sampler of its own for GetProcessMetrics (the periodic one forgets unnamed pids). */
  readonly oneOff: ProcessSampler;
  readonly sessionController?: Client<typeof SessionControllerService>;
  readonly intervalMs: number;
  readonly xrdpInstalled: () => boolean;
  readonly criticalMounts: readonly string[];
  readonly diskFatalPercent: number;
  readonly memoryFatalAvailablePercent: number;
  readonly clock: () => Date;
  readonly shutdownSignal: () => AbortSignal | undefined;
}

const ms = durationMs;
const ts = (d: Date | number | undefined) =>
  d === undefined ? undefined : timestampFromDate(typeof d === "number" ? new Date(d) : d);

// AlertMetric enum value n <-> catalog name (the enum value without ALERT_METRIC_, lowercased).
const metricOf = (m: AlertMetric): string => metricNames[m - 1] ?? `unknown_metric_${m}`;
const metricToProto = (name: string): AlertMetric =>
  (metricNames.indexOf(name as never) + 1) as AlertMetric;
const comparisons = ["GT", "GTE", "LT", "LTE", "EQ", "NE"] as const;
const comparisonOf = (c: Comparison) => comparisons[c - 1] ?? "UNSPECIFIED";
const comparisonToProto = (c: string) => (comparisons.indexOf(c as never) + 1) as Comparison;
const severities = ["INFO", "WARNING", "CRITICAL"] as const;
const severityOf = (s: Severity) => severities[s - 1] ?? "UNSPECIFIED";
const severityToProto = (s: string) => (severities.indexOf(s as never) + 1) as Severity;
const alertStates: Record<string, AlertState> = {
  INACTIVE: AlertState.INACTIVE,
  PENDING: AlertState.PENDING,
  FIRING: AlertState.FIRING,
  RESOLVED: AlertState.RESOLVED,
};

function big(n: number): bigint {
  return BigInt(Math.max(0, Math.round(n)));
}

function hostToProto(h: HostSample): HostMetrics {
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

function processToProto(p: ProcessSample): ProcessMetrics {
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

function usageOf(s: ServerSample) {
  return create(ResourceUsageSchema, {
    cpuPercent: s.cpuPercent,
    memoryRssBytes: big(s.rssBytes),
    processCount: s.processes.length,
    sampleTime: ts(s.time),
  });
}

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
        operator: MatchOperator[m.operator],
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

export function alertToProto(a: AlertRecord & { state: string }): Alert {
  return create(AlertSchema, {
    id: a.id,
    ruleId: a.ruleId,
    state: alertStates[a.state] ?? AlertState.UNSPECIFIED,
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

/** The rule fields of a contract AlertRule (its names, not yet validated). */
function ruleFields(r: AlertRule) {
  return {
    name: r.displayName,
    metric: metricOf(r.metric),
    selector: {},
    matchers: r.selector.map((m) => ({
      name: m.name,
      // Validation admits only the four defined operators, which the domain names alike.
      operator: MatchOperator[m.operator] as LabelMatchOperator,
      value: m.value,
    })),
    comparison: comparisonOf(r.comparison) as AlertRuleRecord["comparison"],
    threshold: r.threshold,
    forMs: r.forDuration ? (ms(r.forDuration) as number) : 0,
    severity: severityOf(r.severity) as AlertRuleRecord["severity"],
    labels: { ...r.labels },
    summary: r.summary || undefined,
    enabled: !r.disabled,
  };
}

const maskFields: Record<string, readonly (keyof ReturnType<typeof ruleFields>)[]> = {
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

export class ResourceMonitorHandler implements Impl {
  private health: HostHealthResult | undefined;

  constructor(private readonly deps: ResourceMonitorDeps) {}

  async getHostMetrics(req: Parameters<Impl["getHostMetrics"]>[0]) {
    const m = this.deps.monitor;
    const latest = m.latestHost;
    const since = this.deps.clock().getTime() - (ms(req.window) ?? 0);
    let history = req.window ? m.hostHistory.since(since, (h) => h.time) : [];
    if (req.maxSamples > 0) history = history.slice(-req.maxSamples);
    return create(GetHostMetricsResponseSchema, {
      latest: latest ? hostToProto(latest) : undefined,
      history: history.map(hostToProto),
      sampleInterval: durationFromMs(this.deps.intervalMs),
    });
  }

  async getProcessMetrics(req: Parameters<Impl["getProcessMetrics"]>[0]) {
    const pids = req.includeDescendants
      ? [...new Set([...this.deps.oneOff.trees(req.pids).values()].flat())]
      : req.pids;
    const samples = this.deps.oneOff.sample(pids);
    return create(GetProcessMetricsResponseSchema, {
      processes: [...samples.values()].map(processToProto),
      missingPids: req.pids.filter((p) => !samples.has(p)),
    });
  }

  async getServerUsage(req: Parameters<Impl["getServerUsage"]>[0], ctx: HandlerContext) {
    let serverId = req.target.case === "serverId" ? req.target.value : "";
    let sessionId = "";
    if (req.target.case === "sessionId") {
      sessionId = req.target.value;
      if (!this.deps.sessionController) {
        throw new ConnectError(
          "sessions cannot be resolved: SESSION_CONTROLLER_URL is not set",
          Code.FailedPrecondition,
        );
      }
      const s = await this.deps.sessionController.getSession({ sessionId }, { signal: ctx.signal });
      serverId = s.session?.serverId ?? "";
    }
    const usage = this.deps.monitor.server(serverId);
    if (usage === undefined) {
      throw new ConnectError(
        `server ${serverId || "(none)"} has no processes on this node`,
        Code.NotFound,
      );
    }
    const since = this.deps.clock().getTime() - (ms(req.window) ?? 0);
    return create(GetServerUsageResponseSchema, {
      serverUsage: create(ServerUsageSchema, {
        serverId,
        sessionId,
        instanceId: usage.latest.instanceId,
        usage: usageOf(usage.latest),
        processes: usage.latest.processes.map(processToProto),
        history: req.window ? usage.history.filter((s) => s.time >= since).map(usageOf) : [],
      }),
    });
  }

  async *watchMetrics(req: Parameters<Impl["watchMetrics"]>[0], ctx: HandlerContext) {
    const stop = this.deps.shutdownSignal();
    const signal = stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal;
    const every = Math.max(ms(req.interval) ?? this.deps.intervalMs, this.deps.intervalMs);
    let last = 0;
    for await (const _ of this.deps.monitor.samples(signal)) {
      const h = this.deps.monitor.latestHost;
      if (h === undefined || h.time - last < every - this.deps.intervalMs / 2) continue;
      last = h.time;
      const ids = req.serverIds.length > 0 ? req.serverIds : this.deps.monitor.serverIds();
      yield create(WatchMetricsResponseSchema, {
        eventId: String(h.time),
        sampleTime: ts(h.time),
        host: hostToProto(h),
        servers: ids
          .map((id) => ({ id, s: this.deps.monitor.server(id) }))
          .filter((x) => x.s !== undefined)
          .map(({ id, s }) =>
            create(ServerUsageSchema, {
              serverId: id,
              instanceId: s?.latest.instanceId ?? "",
              usage: s ? usageOf(s.latest) : undefined,
            }),
          ),
      });
    }
  }

  async createAlertRule(req: Parameters<Impl["createAlertRule"]>[0], ctx: HandlerContext) {
    const rule = req.alertRule ?? create(AlertRuleSchema, {});
    const fields = ruleFields(rule);
    const { resultId } = await runIdempotent(
      this.deps.idempotency,
      {
        scope: "CreateAlertRule",
        requestId: req.requestId,
        params: fields,
        ttlMs: this.deps.idempotencyTtlMs,
        signal: ctx.signal,
      },
      async () => (await this.deps.alerts.createRule(randomUUID(), fields)).id,
    );
    return create(CreateAlertRuleResponseSchema, {
      alertRule: ruleToProto(await this.deps.rules.get(resultId)),
    });
  }

  async getAlertRule(req: Parameters<Impl["getAlertRule"]>[0], ctx: HandlerContext) {
    const r = await this.deps.rules.get(req.alertRuleId, { signal: ctx.signal });
    return create(GetAlertRuleResponseSchema, { alertRule: ruleToProto(r) });
  }

  async listAlertRules(req: Parameters<Impl["listAlertRules"]>[0], ctx: HandlerContext) {
    const page = await this.deps.rules.list({
      where: {
        ...(req.metric ? { metric: metricOf(req.metric) } : {}),
        ...(req.severity
          ? { severity: severityOf(req.severity) as AlertRuleRecord["severity"] }
          : {}),
      },
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      signal: ctx.signal,
    });
    return create(ListAlertRulesResponseSchema, {
      alertRules: page.items.map(ruleToProto),
      nextPageToken: page.nextPageToken,
    });
  }

  async updateAlertRule(req: Parameters<Impl["updateAlertRule"]>[0]) {
    const rule = req.alertRule ?? create(AlertRuleSchema, {});
    const all = ruleFields(rule);
    const paths = req.updateMask?.paths ?? [];
    const changes: Record<string, unknown> = {};
    for (const path of paths) {
      for (const key of maskFields[path] ?? []) changes[key] = all[key];
    }
    const updated = await this.deps.alerts.updateRule(rule.id, rule.etag, changes);
    return create(UpdateAlertRuleResponseSchema, { alertRule: ruleToProto(updated) });
  }

  async deleteAlertRule(req: Parameters<Impl["deleteAlertRule"]>[0]) {
    await this.deps.alerts.deleteRule(req.alertRuleId, req.etag);
    return create(DeleteAlertRuleResponseSchema, {});
  }

  async listAlerts(req: Parameters<Impl["listAlerts"]>[0], ctx: HandlerContext) {
    const states = req.states
      .map((s) => Object.entries(alertStates).find(([, v]) => v === s)?.[0])
      .filter((s): s is AlertRecord["state"] => s !== undefined && s !== "INACTIVE");
    const page = await this.deps.alertStore.list({
      where: {
        ...(states.length > 0 ? { state: { in: states } } : {}),
        ...(req.ruleId ? { ruleId: req.ruleId } : {}),
        ...(req.severity ? { severity: severityOf(req.severity) as AlertRecord["severity"] } : {}),
      },
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      signal: ctx.signal,
    });
    const now = this.deps.clock().getTime();
    const items =
      req.silenced === undefined
        ? page.items
        : page.items.filter((a) => (a.silencedUntil?.getTime() ?? 0) > now === req.silenced);
    return create(ListAlertsResponseSchema, {
      alerts: items.map(alertToProto),
      nextPageToken: page.nextPageToken,
      lastEventId: await this.deps.bus.lastEventId("alert", { signal: ctx.signal }),
    });
  }

  async *watchAlerts(req: Parameters<Impl["watchAlerts"]>[0], ctx: HandlerContext) {
    const stop = this.deps.shutdownSignal();
    const signal = stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal;
    const events = this.deps.bus.subscribe("alert", {
      after: req.afterEventId || undefined,
      signal,
    }) as AsyncIterable<
      BusEvent<{ alert: AlertRecord & { state: string }; previousState?: string }>
    >;
    for await (const e of events) {
      const a = e.data.alert;
      if (req.ruleId && a.ruleId !== req.ruleId) continue;
      if (req.severity && a.severity !== severityOf(req.severity)) continue;
      yield create(WatchAlertsResponseSchema, {
        eventId: e.id,
        type:
          e.type === "alert.silenced"
            ? AlertEventType.SILENCED
            : e.type === "alert.unsilenced"
              ? AlertEventType.UNSILENCED
              : AlertEventType.STATE_CHANGED,
        eventTime: ts(e.time),
        alert: alertToProto(a),
        previousState: e.data.previousState ? alertStates[e.data.previousState] : undefined,
      });
    }
  }

  async silenceAlert(req: Parameters<Impl["silenceAlert"]>[0], ctx: HandlerContext) {
    const p: Principal | undefined = ctx.values.get(principalKey);
    const a = await this.deps.alerts.silence(
      req.alertId,
      ms(req.duration) ?? 0,
      p?.subject ?? "anonymous",
      req.comment,
    );
    return create(SilenceAlertResponseSchema, { alert: alertToProto(a) });
  }

  async getHostHealth() {
    const h = this.deps.monitor.latestHost;
    const result = evaluateHostHealth({
      host: h
        ? {
            filesystems: h.filesystems.map((f) => ({
              mountPoint: f.mountPoint,
              usedPercent:
                f.sizeBytes > 0 ? ((f.sizeBytes - f.availableBytes) / f.sizeBytes) * 100 : 0,
            })),
            memoryAvailablePercent:
              h.memory.totalBytes > 0 ? (h.memory.availableBytes / h.memory.totalBytes) * 100 : 0,
            swapUsedPercent:
              h.memory.swapTotalBytes > 0
                ? (h.memory.swapUsedBytes / h.memory.swapTotalBytes) * 100
                : 0,
          }
        : undefined,
      xrdpInstalled: this.deps.xrdpInstalled(),
      lastSampleTime: this.deps.monitor.lastSampleTime,
      startTime: this.deps.monitor.startTime,
      now: this.deps.clock(),
      thresholds: {
        sampleIntervalMs: this.deps.intervalMs,
        criticalMounts: this.deps.criticalMounts,
        diskFatalPercent: this.deps.diskFatalPercent,
        memoryFatalAvailablePercent: this.deps.memoryFatalAvailablePercent,
      },
      previous: this.health,
    });
    this.health = result;
    return create(GetHostHealthResponseSchema, {
      hostHealth: create(HostHealthSchema, {
        hostname: hostname(),
        status: HostHealthStatus[result.status],
        checks: result.checks.map((c) =>
          create(HealthCheckSchema, {
            name: c.name,
            fatal: c.fatal,
            status: HealthCheckStatus[c.status],
            message: c.message,
            lastCheckTime: ts(c.lastCheckTime),
            lastTransitionTime: ts(c.lastTransitionTime),
          }),
        ),
        checkTime: ts(result.checkTime),
      }),
    });
  }
}
