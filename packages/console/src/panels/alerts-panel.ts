/** The alerts list: live from ListAlerts + WatchAlerts (resource-monitor). */
import type { Client } from "@connectrpc/connect";
import { type Alert, AlertState, type ResourceMonitorService, Severity } from "@lucid-rdp/gen";
import { badge, byId, h } from "../dom.js";
import { ago, dateOf } from "../format.js";
import { listAll } from "../list-all.js";
import { live } from "../live.js";
import { isSilenced, visibleAlerts } from "../selectors.js";
import { alertTone } from "../tones.js";

/** Fills the alerts list (firing first, at most 20) and keeps it live; re-renders every 5 s. */
export function alertsPanel(rm: Client<typeof ResourceMonitorService>): void {
  const alerts = new Map<string, Alert>();
  const list = byId("alerts");
  const render = () => {
    const shown = visibleAlerts(alerts.values());
    list.replaceChildren(
      ...shown.map((a) => {
        const silenced = isSilenced(a);
        return h(
          "li",
          { "data-alert-id": a.id, "data-state": AlertState[a.state] },
          h(
            "div",
            {},
            badge(AlertState[a.state] ?? "?", alertTone(a.state)),
            " ",
            h("span", { class: "summary" }, a.summary || a.ruleId),
          ),
          h(
            "div",
            { class: "meta" },
            `${Severity[a.severity] ?? ""} · value ${a.value.toFixed(2)} vs ${a.threshold} · ${ago(dateOf(a.updateTime))}${silenced ? " · silenced" : ""}`,
          ),
        );
      }),
    );
    byId("alerts-empty").hidden = shown.length > 0;
  };
  live("alerts", async (signal, up) => {
    const { items, lastEventId } = await listAll(async (pageToken) => {
      const r = await rm.listAlerts({ pageSize: 100, pageToken }, { signal });
      return { items: r.alerts, next: r.nextPageToken, lastEventId: r.lastEventId };
    });
    alerts.clear();
    for (const a of items) alerts.set(a.id, a);
    render();
    up();
    for await (const ev of rm.watchAlerts({ afterEventId: lastEventId }, { signal })) {
      if (ev.alert) alerts.set(ev.alert.id, ev.alert);
      render();
    }
  });
  setInterval(render, 5_000);
}
