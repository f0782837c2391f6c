/**
 * Alert rules and alerts over the stores: rules validated by the domain (the contract's rules),
 * evaluated after every sample against this node's series, alerts stored, every change published
 * on the bus (family "alert"). An alert's change and its events are one write (Repository: the
 * record's outbox, relayed by `relay` if this process dies before publishing). A pending alert whose
 * condition cleared is deleted, so its `alert.inactive` event has no record to wait in: it is
 * published after the delete.
 */
import { randomUUID } from "node:crypto";
import type { Clock, Logger } from "@lucid-rdp/runtime";
import {
  type CallOptions,
  ConflictError,
  type EventBus,
  type EventDraft,
  type IdempotencyStore,
  type NewRecord,
  NotFoundError,
  type Page,
  Repository,
  runIdempotent,
} from "@lucid-rdp/storage";
import {
  type AlertEvent,
  type EngineAlert,
  evaluate,
  silenceAlert,
} from "../domain/alert-engine.js";
import { type AlertRuleInput, validateRule } from "../domain/alert-rules.js";
import type { MetricName, SeriesValue } from "../domain/metrics-catalog.js";
import { StaleEtagError } from "../domain/stale-etag-error.js";
import type { AlertRecord, AlertRuleRecord } from "../store/records.js";
import type { AlertRuleStore, AlertStore } from "../store/stores.js";

/** What Alerts works with. */
export interface AlertsOptions {
  readonly rules: AlertRuleStore;
  readonly alerts: AlertStore;
  /** Request ids of CreateAlertRule (AIP-155): a retry gets the rule the first call created. */
  readonly idempotency: IdempotencyStore;
  /** How long a request id is remembered. */
  readonly idempotencyTtlMs: number;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly clock: Clock;
  /** This node's series of a metric. */
  readonly series: (metric: MetricName) => SeriesValue[];
  /** This node: its series carry it as `node_id`, and it only ever touches its own alerts. */
  readonly nodeId: string;
}

type RuleFields = Omit<NewRecord<AlertRuleRecord>, "id">;

/** Which alert rules a list returns (ListAlertRules' filters) and which page of them. */
export interface AlertRuleQuery extends CallOptions {
  /** Only rules on this metric; absent: any. */
  readonly metric?: string;
  /** Only rules of this severity; absent: any. */
  readonly severity?: AlertRuleRecord["severity"];
  /** @default 50 (at most 1000) */
  readonly pageSize?: number;
  /** From a previous page's nextPageToken. */
  readonly pageToken?: string;
}

/** Which alerts a list returns (ListAlerts' filters) and which page of them. */
export interface AlertQuery extends CallOptions {
  /** Only alerts in one of these states; empty or absent: any state. */
  readonly states?: readonly AlertRecord["state"][];
  /** Only the alerts of this rule; absent: any. */
  readonly ruleId?: string;
  /** Only alerts of this severity; absent: any. */
  readonly severity?: AlertRecord["severity"];
  /** @default 50 (at most 1000) */
  readonly pageSize?: number;
  /** From a previous page's nextPageToken. */
  readonly pageToken?: string;
}

/** This node's alert rules and alerts: rule changes, evaluation after each sample, silences. */
export class Alerts {
  /**
   * Every read-modify-write of this node's alerts (an evaluation, a delete's resolve, a silence)
   * runs after the previous one: the evaluation after each sample and an RPC on the same alert
   * would otherwise race on its version, and the RPC would fail ABORTED for a conflict with this
   * very process. Alerts are per node, so one process is the only writer of its own.
   */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly repo: Repository<AlertRecord>;

  constructor(private readonly opts: AlertsOptions) {
    this.repo = new Repository({
      collection: opts.alerts,
      bus: opts.bus,
      logger: opts.logger,
      now: opts.clock,
    });
  }

  /** Publishes the events a process that died after its write left in alerts (older than 5 s). */
  relay(): Promise<number> {
    return this.serially(() => this.repo.relayOnce(5_000));
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** The rule. @throws NotFoundError */
  getRule(id: string, opts?: CallOptions): Promise<AlertRuleRecord> {
    return this.opts.rules.get(id, opts);
  }

  /** One page of the rules matching `query`, newest first. @throws InvalidPageTokenError */
  listRules(query: AlertRuleQuery = {}): Promise<Page<AlertRuleRecord>> {
    const { metric, severity, pageSize, pageToken, signal } = query;
    return this.opts.rules.list({
      where: {
        ...(metric !== undefined ? { metric } : {}),
        ...(severity !== undefined ? { severity } : {}),
      },
      pageSize,
      pageToken,
      signal,
    });
  }

  /** One page of the alerts matching `query`, newest first. @throws InvalidPageTokenError */
  listAlerts(query: AlertQuery = {}): Promise<Page<AlertRecord>> {
    const { states = [], ruleId, severity, pageSize, pageToken, signal } = query;
    return this.opts.alerts.list({
      where: {
        ...(states.length > 0 ? { state: { in: [...states] } } : {}),
        ...(ruleId !== undefined ? { ruleId } : {}),
        ...(severity !== undefined ? { severity } : {}),
      },
      pageSize,
      pageToken,
      signal,
    });
  }

  /**
   * CreateAlertRule: creates the rule once per request id (AIP-155) and returns it; a retry with
   * the same id and fields returns the rule the first call created.
   * @throws RequestParamsChangedError when the request id came with other fields
   */
  async createRuleOnce(
    requestId: string,
    fields: RuleFields,
    signal?: AbortSignal,
  ): Promise<AlertRuleRecord> {
    const { resultId } = await runIdempotent(
      this.opts.idempotency,
      {
        scope: "CreateAlertRule",
        requestId,
        params: fields,
        ttlMs: this.opts.idempotencyTtlMs,
        signal,
      },
      async () => (await this.createRule(randomUUID(), fields)).id,
    );
    return this.opts.rules.get(resultId);
  }

  /** Validates and stores a new rule. @throws AlreadyExistsError, a rule validation error */
  async createRule(id: string, fields: RuleFields): Promise<AlertRuleRecord> {
    validateRule(fields as AlertRuleInput);
    return this.opts.rules.insert({ id, ...fields });
  }

  /** Applies `changes` (already merged from the update mask) if `etag` is current. */
  async updateRule(
    id: string,
    etag: string,
    changes: Partial<RuleFields>,
  ): Promise<AlertRuleRecord> {
    const current = await this.opts.rules.get(id);
    const version = etag === "" ? current.version : Number(etag.replace(/^v/, ""));
    if (!Number.isSafeInteger(version) || version !== current.version)
      throw new StaleEtagError(id, etag);
    validateRule({ ...current, ...changes } as AlertRuleInput);
    try {
      return await this.opts.rules.update(id, version, changes);
    } catch (e) {
      if (e instanceof Error && e.name === "ConflictError") throw new StaleEtagError(id, etag);
      throw e;
    }
  }

  /**
   * Deletes a rule (if `etag` is empty or current): its open alerts resolve first (published),
   * then go with it.
   */
  async deleteRule(id: string, etag = ""): Promise<void> {
    const rule = await this.opts.rules.get(id);
    if (etag !== "" && etag !== `v${rule.version}`) throw new StaleEtagError(id, etag);
    await this.serially(async () => {
      await this.evaluateRule({ ...rule, enabled: false });
      await this.opts.alerts.deleteWhere({ ruleId: id });
    });
    try {
      await this.opts.rules.delete(id, etag === "" ? undefined : rule.version);
    } catch (e) {
      if (e instanceof Error && e.name === "ConflictError") throw new StaleEtagError(id, etag);
      throw e;
    }
  }

  async silence(
    alertId: string,
    durationMs: number,
    by: string,
    comment: string,
  ): Promise<AlertRecord> {
    return this.serially(async () => {
      const now = this.opts.clock();
      const { record } = await this.repo.modify(alertId, (current) => {
        const r = silenceAlert(current, { durationMs, by, comment }, now);
        if (!r.changed) return undefined;
        const {
          id: _id,
          version: _v,
          createTime: _c,
          updateTime: _u,
          outbox: _o,
          outboxSince: _s,
          ...fields
        } = r.alert as AlertRecord;
        return { changes: fields, events: r.event ? [draft(r.event)] : [] };
      });
      return record;
    });
  }

  /** Evaluates every rule against the current series (a disabled one resolves its alerts). */
  async evaluateAll(): Promise<void> {
    let token = "";
    do {
      // Disabled rules too: their evaluation resolves what they left open.
      const page = await this.opts.rules.list({ pageSize: 200, pageToken: token });
      for (const rule of page.items) {
        try {
          await this.serially(() => this.evaluateRule(rule));
        } catch (e) {
          this.opts.logger.warn({ err: e, rule: rule.id }, "alert rule evaluation failed");
        }
      }
      token = page.nextPageToken;
    } while (token !== "");
  }

  private async evaluateRule(rule: AlertRuleRecord): Promise<void> {
    const now = this.opts.clock();
    // Monitors of other nodes may share the database: only this node's alerts are ours.
    const mine = { contains: { node_id: this.opts.nodeId } };
    const open = (
      await this.opts.alerts.list({
        where: { ruleId: rule.id, state: { in: ["PENDING", "FIRING"] }, labels: mine },
        pageSize: 1000,
      })
    ).items;
    const resolvedBefore = (
      await this.opts.alerts.list({
        where: { ruleId: rule.id, state: "RESOLVED", labels: mine },
        pageSize: 1000,
      })
    ).items;
    const series = rule.enabled ? this.opts.series(rule.metric as MetricName) : [];
    const result = evaluate(rule, series, [...open, ...resolvedBefore], now);
    const stored = new Set<string>();
    for (const a of [...result.upserts, ...result.resolved]) {
      await this.store(
        a,
        result.events.filter((e) => e.alert.id === a.id),
      );
      stored.add(a.id);
    }
    for (const a of result.removed) {
      if (a.id) await this.opts.alerts.delete(a.id).catch(() => undefined);
    }
    // Events of deleted alerts: no record is left to hold them.
    for (const e of result.events) {
      if (stored.has(e.alert.id)) continue;
      await this.publish(e.type, e.alert as unknown as AlertRecord, e.previousState, e.notify);
    }
  }

  /** Stores an alert the engine changed, with its events, in one write. */
  private async store(a: EngineAlert, events: readonly AlertEvent[]): Promise<void> {
    const {
      version,
      createTime: _c,
      updateTime: _u,
      outbox: _o,
      outboxSince: _s,
      ...fields
    } = a as EngineAlert & Partial<Pick<AlertRecord, "outbox" | "outboxSince">>;
    const drafts = events.map(draft);
    if (version !== undefined) {
      const { id, ...changes } = fields;
      try {
        await this.repo.modify(id, (current) => {
          // The engine decided from this version: a newer one is another writer's.
          if (current.version !== version) throw new ConflictError("alerts", id, version);
          return { changes, events: drafts };
        });
        return;
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    await this.repo.insert(fields as NewRecord<AlertRecord>, drafts);
  }

  private async publish(
    type: string,
    alert: AlertRecord,
    previousState: string | undefined,
    notify: boolean,
  ) {
    try {
      await this.opts.bus.publish({
        type,
        subject: alert.id,
        data: { alert, previousState, notify },
      });
    } catch (e) {
      this.opts.logger.warn({ err: e, type }, "alert event not published");
    }
  }
}

/** An engine event as stored with its alert: the data carries the alert as written. */
function draft(e: AlertEvent): EventDraft<AlertRecord> {
  return {
    type: e.type,
    data: (alert) => ({ alert, previousState: e.previousState, notify: e.notify }),
  };
}
