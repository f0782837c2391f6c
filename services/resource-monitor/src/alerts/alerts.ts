/**
 * Alert rules and alerts over the stores: rules validated by the domain (the contract's rules),
 * evaluated after every sample against this node's series, alerts stored, every change published
 * on the bus (family "alert").
 */
import type { Logger } from "@lucid-rdp/runtime";
import {
  type AlertRecord,
  type AlertRuleRecord,
  type AlertRuleStore,
  type AlertStore,
  type EventBus,
  type NewRecord,
  NotFoundError,
} from "@lucid-rdp/storage";
import { type EngineAlert, evaluate, silenceAlert } from "../domain/alert-engine.js";
import { type AlertRuleInput, validateRule } from "../domain/alert-rules.js";
import type { MetricName, SeriesValue } from "../domain/metrics-catalog.js";

/** Thrown when an update names a version (etag) that is not the rule's current one. */
export class StaleEtagError extends Error {
  override readonly name = "StaleEtagError";
  constructor(
    readonly ruleId: string,
    readonly etag: string,
  ) {
    super(`alert rule ${ruleId} changed since etag ${etag}: read it again`);
  }
}

export interface AlertsOptions {
  readonly rules: AlertRuleStore;
  readonly alerts: AlertStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly clock: () => Date;
  /** This node's series of a metric. */
  readonly series: (metric: MetricName) => SeriesValue[];
  /** This node: its series carry it as `node_id`, and it only ever touches its own alerts. */
  readonly nodeId: string;
}

type RuleFields = Omit<NewRecord<AlertRuleRecord>, "id">;

export class Alerts {
  /**
   * Every read-modify-write of this node's alerts (an evaluation, a delete's resolve, a silence)
   * runs after the previous one: the evaluation after each sample and an RPC on the same alert
   * would otherwise race on its version, and the RPC would fail ABORTED for a conflict with this
   * very process. Alerts are per node, so one process is the only writer of its own.
   */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: AlertsOptions) {}

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

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
      const current = await this.opts.alerts.get(alertId);
      const r = silenceAlert(current, { durationMs, by, comment }, this.opts.clock());
      if (!r.changed) return current;
      const {
        id: _id,
        version: _v,
        createTime: _c,
        updateTime: _u,
        ...fields
      } = r.alert as AlertRecord;
      const next = await this.opts.alerts.update(alertId, current.version, fields);
      if (r.event) await this.publish(r.event.type, next, r.event.previousState, r.event.notify);
      return next;
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
    for (const a of [...result.upserts, ...result.resolved]) await this.store(a);
    for (const a of result.removed) {
      if (a.id) await this.opts.alerts.delete(a.id).catch(() => undefined);
    }
    for (const e of result.events) {
      await this.publish(e.type, e.alert as unknown as AlertRecord, e.previousState, e.notify);
    }
  }

  private async store(a: EngineAlert): Promise<void> {
    const {
      version,
      createTime: _c,
      updateTime: _u,
      ...fields
    } = a as EngineAlert & {
      createTime?: Date;
      updateTime?: Date;
    };
    if (version === undefined) {
      await this.opts.alerts.insert(fields as NewRecord<AlertRecord>);
      return;
    }
    const { id, ...changes } = fields;
    try {
      await this.opts.alerts.update(id, version, changes);
    } catch (e) {
      if (e instanceof NotFoundError)
        await this.opts.alerts.insert(fields as NewRecord<AlertRecord>);
      else throw e;
    }
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
