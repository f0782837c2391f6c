/** The ResourceMonitorService handlers: contract messages in, monitor and alerts, messages out. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  AlertRuleSchema,
  CreateAlertRuleResponseSchema,
  DeleteAlertRuleResponseSchema,
  GetAlertRuleResponseSchema,
  GetHostHealthResponseSchema,
  GetHostMetricsResponseSchema,
  GetProcessMetricsResponseSchema,
  GetServerUsageResponseSchema,
  ListAlertRulesResponseSchema,
  ListAlertsResponseSchema,
  type ResourceMonitorService,
  ServerUsageSchema,
  SilenceAlertResponseSchema,
  UpdateAlertRuleResponseSchema,
  WatchMetricsResponseSchema,
} from "@lucid-rdp/gen";
import { type Clock, durationMs, type Principal, principalKey } from "@lucid-rdp/runtime";
import type { EventBus } from "@lucid-rdp/storage";
import type { Alerts } from "../alerting/alerts.js";
import type { SessionControllerClient } from "../clients/session-controller-client.js";
import type { HostHealthChecker } from "../monitoring/host-health-checker.js";
import type { Monitor } from "../monitoring/monitor.js";
import type { ProcessSampler } from "../sampling/process-sampler.js";
import { severityFromProto } from "./enum-mappings.js";
import {
  type AlertBusEvent,
  alertEventToProto,
  alertFilterFromProto,
  alertToProto,
  hostHealthToProto,
  hostToProto,
  processToProto,
  ruleChangesFromProto,
  ruleFilterFromProto,
  ruleFromProto,
  ruleToProto,
  ts,
  usageToProto,
} from "./mappers.js";

type Impl = ServiceImpl<typeof ResourceMonitorService>;

/** The ports of ResourceMonitorHandler. */
export interface ResourceMonitorHandlerDeps {
  readonly monitor: Monitor;
  /** Alert rules and alerts: every read and write of them. */
  readonly alerts: Alerts;
  readonly bus: EventBus;
  /** A sampler of its own for GetProcessMetrics (the periodic one forgets unnamed pids). */
  readonly oneOff: ProcessSampler;
  /** session-controller, to resolve a session id to its server; absent when not configured. */
  readonly sessions?: SessionControllerClient;
  readonly hostHealth: HostHealthChecker;
  readonly intervalMs: number;
  readonly clock: Clock;
  /** Aborted when shutdown begins: the Watch streams end on it. */
  readonly shutdownSignal: () => AbortSignal | undefined;
}

const ms = durationMs;
/** The longest GetServerUsage by server id waits for session-controller to name the session. */
const sessionLookupMs = 1_000;

/** ResourceMonitorService: every RPC, orchestrating the monitor, the alerts and the stores. */
export class ResourceMonitorHandler implements Impl {
  constructor(private readonly deps: ResourceMonitorHandlerDeps) {}

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
    if (req.target.case === "serverId") {
      sessionId = await this.sessionOf(serverId, ctx);
    } else if (req.target.case === "sessionId") {
      sessionId = req.target.value;
      if (!this.deps.sessions) {
        throw new ConnectError(
          "sessions cannot be resolved: SESSION_CONTROLLER_URL is not set",
          Code.FailedPrecondition,
        );
      }
      serverId = await this.deps.sessions.serverIdOfSession(sessionId, ctx.signal);
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
        usage: usageToProto(usage.latest),
        processes: usage.latest.processes.map(processToProto),
        history: req.window ? usage.history.filter((s) => s.time >= since).map(usageToProto) : [],
      }),
    });
  }

  /**
   * The session owning `serverId`, for a response's `session_id`: empty without session-controller
   * or when it does not answer within a second (or half of what is left of the call's deadline),
   * since usage by server id must not depend on it.
   */
  private async sessionOf(serverId: string, ctx: HandlerContext): Promise<string> {
    if (!this.deps.sessions) return "";
    const left = ctx.timeoutMs();
    const budgetMs = Math.max(
      1,
      Math.min(sessionLookupMs, left === undefined ? Infinity : left / 2),
    );
    try {
      return await this.deps.sessions.sessionIdOfServer(
        serverId,
        AbortSignal.any([ctx.signal, AbortSignal.timeout(budgetMs)]),
      );
    } catch {
      return "";
    }
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
      // The contract: empty server_ids sends the host sample only.
      const ids = req.serverIds;
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
              usage: s ? usageToProto(s.latest) : undefined,
            }),
          ),
      });
    }
  }

  async createAlertRule(req: Parameters<Impl["createAlertRule"]>[0], ctx: HandlerContext) {
    const rule = req.alertRule ?? create(AlertRuleSchema, {});
    const created = await this.deps.alerts.createRuleOnce(
      req.requestId,
      ruleFromProto(rule),
      ctx.signal,
    );
    return create(CreateAlertRuleResponseSchema, { alertRule: ruleToProto(created) });
  }

  async getAlertRule(req: Parameters<Impl["getAlertRule"]>[0], ctx: HandlerContext) {
    const r = await this.deps.alerts.getRule(req.alertRuleId, { signal: ctx.signal });
    return create(GetAlertRuleResponseSchema, { alertRule: ruleToProto(r) });
  }

  async listAlertRules(req: Parameters<Impl["listAlertRules"]>[0], ctx: HandlerContext) {
    const page = await this.deps.alerts.listRules({
      ...ruleFilterFromProto(req),
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
    const changes = ruleChangesFromProto(rule, req.updateMask?.paths ?? []);
    const updated = await this.deps.alerts.updateRule(rule.id, rule.etag, changes);
    return create(UpdateAlertRuleResponseSchema, { alertRule: ruleToProto(updated) });
  }

  async deleteAlertRule(req: Parameters<Impl["deleteAlertRule"]>[0]) {
    await this.deps.alerts.deleteRule(req.alertRuleId, req.etag);
    return create(DeleteAlertRuleResponseSchema, {});
  }

  async listAlerts(req: Parameters<Impl["listAlerts"]>[0], ctx: HandlerContext) {
    const page = await this.deps.alerts.listAlerts({
      ...alertFilterFromProto(req),
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
    }) as AsyncIterable<AlertBusEvent>;
    for await (const e of events) {
      const a = e.data.alert;
      if (req.ruleId && a.ruleId !== req.ruleId) continue;
      if (req.severity && a.severity !== severityFromProto(req.severity)) continue;
      yield alertEventToProto(e);
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
    return create(GetHostHealthResponseSchema, {
      hostHealth: hostHealthToProto(this.deps.hostHealth.check()),
    });
  }
}
