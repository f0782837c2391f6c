/**
 * The alert rules table (resource-monitor): ListAlertRules polled every 10 s, a dialog to
 * create or edit a rule (CreateAlertRule; UpdateAlertRule with the changed fields as the mask
 * and the etag read), and delete after a confirmation.
 */
import type { Client } from "@connectrpc/connect";
import {
  AlertMetric,
  type AlertRule,
  Comparison,
  type ResourceMonitorService,
  Severity,
} from "@lucid-rdp/gen";
import { cell } from "../cells.js";
import { confirmAction } from "../confirm-dialog.js";
import { badge, byId, h, notice } from "../dom.js";
import { errorText } from "../format.js";
import { listAll } from "../list-all.js";
import { changedPaths, type RuleValues, ruleFields, valuesOf } from "../rule-edit.js";

const comparisonSigns: Record<number, string> = {
  [Comparison.GREATER_THAN]: ">",
  [Comparison.GREATER_THAN_OR_EQUAL]: "≥",
  [Comparison.LESS_THAN]: "<",
  [Comparison.LESS_THAN_OR_EQUAL]: "≤",
  [Comparison.EQUAL]: "=",
  [Comparison.NOT_EQUAL]: "≠",
};

/** The defined values of a protobuf-es enum, UNSPECIFIED left out, as [value, name] pairs. */
const enumChoices = (e: Record<string, string | number>): [number, string][] =>
  Object.entries(e)
    .filter((kv): kv is [string, number] => typeof kv[1] === "number" && kv[1] !== 0)
    .map(([name, v]) => [v, name]);

const defaults: RuleValues = {
  displayName: "",
  metric: AlertMetric.HOST_CPU_USAGE_PERCENT,
  comparison: Comparison.GREATER_THAN,
  threshold: 90,
  forSeconds: 60,
  severity: Severity.WARNING,
  summary: "",
  disabled: false,
};

/** Fills the rules table and wires the rule dialog. */
export function rulesPanel(rm: Client<typeof ResourceMonitorService>): void {
  const tbody = byId("rules").querySelector("tbody") as HTMLTableSectionElement;
  const dialog = byId<HTMLDialogElement>("rule-dialog");
  const form = byId<HTMLFormElement>("rule-form");
  const name = byId<HTMLInputElement>("rule-name");
  const metric = byId<HTMLSelectElement>("rule-metric");
  const comparison = byId<HTMLSelectElement>("rule-comparison");
  const threshold = byId<HTMLInputElement>("rule-threshold");
  const forSeconds = byId<HTMLInputElement>("rule-for");
  const severity = byId<HTMLSelectElement>("rule-severity");
  const summary = byId<HTMLInputElement>("rule-summary");
  const disabled = byId<HTMLInputElement>("rule-disabled");
  const fill = (
    sel: HTMLSelectElement,
    e: Record<string, string | number>,
    label = (_v: number, n: string) => n,
  ) =>
    sel.replaceChildren(
      ...enumChoices(e).map(([v, n]) => h("option", { value: String(v) }, label(v, n))),
    );
  fill(metric, AlertMetric);
  fill(comparison, Comparison, (v, n) => comparisonSigns[v] ?? n);
  fill(severity, Severity);

  let editing: AlertRule | undefined;
  const read = (): RuleValues => ({
    displayName: name.value.trim(),
    metric: Number(metric.value) as AlertMetric,
    comparison: Number(comparison.value) as Comparison,
    threshold: Number(threshold.value),
    forSeconds: Number(forSeconds.value || 0),
    severity: Number(severity.value) as Severity,
    summary: summary.value,
    disabled: disabled.checked,
  });
  const open = (r: AlertRule | undefined) => {
    editing = r;
    const v = r ? valuesOf(r) : defaults;
    byId("rule-title").textContent = r ? `Edit rule ${r.displayName}` : "New alert rule";
    name.value = v.displayName;
    metric.value = String(v.metric);
    comparison.value = String(v.comparison);
    threshold.value = String(v.threshold);
    forSeconds.value = String(v.forSeconds);
    severity.value = String(v.severity);
    summary.value = v.summary;
    disabled.checked = v.disabled;
    notice("rule-notice", "");
    dialog.showModal();
  };
  byId("rule-new").addEventListener("click", () => open(undefined));

  form.addEventListener("submit", async (e) => {
    const submitter = (e as SubmitEvent).submitter as HTMLButtonElement | null;
    if (submitter?.value !== "confirm") return; // Cancel closes the dialog.
    e.preventDefault();
    const save = byId<HTMLButtonElement>("rule-save");
    save.disabled = true;
    try {
      const v = read();
      if (editing === undefined) {
        await rm.createAlertRule({ requestId: crypto.randomUUID(), alertRule: ruleFields(v) });
      } else {
        const paths = changedPaths(valuesOf(editing), v);
        if (paths.length > 0)
          await rm.updateAlertRule({
            alertRule: { ...ruleFields(v), id: editing.id, etag: editing.etag },
            updateMask: { paths },
          });
      }
      dialog.close("saved");
      await poll();
    } catch (err) {
      notice("rule-notice", errorText(err));
    } finally {
      save.disabled = false;
    }
  });

  const row = (r: AlertRule) => {
    const edit = h("button", { type: "button", class: "ghost", "data-action": "edit" }, "Edit");
    edit.addEventListener("click", () => open(r));
    const del = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
    del.addEventListener("click", async () => {
      const ok = await confirmAction({
        title: "Delete alert rule?",
        text: `"${r.displayName}" is deleted; its alerts resolve and are removed.`,
        confirm: "Delete",
      });
      if (!ok) return;
      del.disabled = true;
      try {
        await rm.deleteAlertRule({ alertRuleId: r.id, etag: r.etag });
        notice("rules-notice", "", false);
      } catch (err) {
        notice("rules-notice", `Delete: ${errorText(err)}`);
      }
      await poll();
    });
    return h(
      "tr",
      { "data-rule-id": r.id },
      cell("Rule", r.displayName),
      cell("Metric", AlertMetric[r.metric] ?? "?"),
      cell(
        "Condition",
        `${comparisonSigns[r.comparison] ?? "?"} ${r.threshold} for ${Number(r.forDuration?.seconds ?? 0n)}s`,
      ),
      cell("Severity", Severity[r.severity] ?? "?"),
      cell("State", r.disabled ? badge("DISABLED", "gone") : badge("ENABLED", "ok")),
      cell("", h("div", { class: "actions" }, edit, del)),
    );
  };

  const poll = async () => {
    try {
      const { items } = await listAll(async (pageToken) => {
        const r = await rm.listAlertRules({ pageSize: 100, pageToken });
        return { items: r.alertRules, next: r.nextPageToken };
      });
      tbody.replaceChildren(...items.map(row));
      byId("rules-empty").hidden = items.length > 0;
    } catch (e) {
      notice("rules-notice", errorText(e));
    }
  };
  void poll();
  setInterval(() => void poll(), 10_000);
}
