/**
 * The alerts list: live from ListAlerts + WatchAlerts (resource-monitor). A silenced alert reads
 * SILENCED with the time its silence lasts until; each alert can be silenced (for a chosen time,
 * with a comment) or have its silence lifted.
 */
import type { Client } from "@connectrpc/connect";
import { type Alert, AlertState, type ResourceMonitorService, Severity } from "@lucid-rdp/gen";
import { badge, byId, h, notice } from "../dom.js";
import { ago, dateOf, errorText, when } from "../format.js";
import { listAll } from "../list-all.js";
import { live } from "../live.js";
import { alertStatus, visibleAlerts } from "../selectors.js";
import { alertTone } from "../tones.js";

/** Asks for the silence's length and comment; resolves undefined when cancelled. */
function askSilence(a: Alert): Promise<{ seconds: number; comment: string } | undefined> {
  const dialog = byId<HTMLDialogElement>("silence-dialog");
  byId("silence-text").textContent = a.summary || a.ruleId;
  byId<HTMLInputElement>("silence-comment").value = "";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener(
      "close",
      () =>
        resolve(
          dialog.returnValue === "confirm"
            ? {
                seconds: Number(byId<HTMLSelectElement>("silence-duration").value),
                comment: byId<HTMLInputElement>("silence-comment").value,
              }
            : undefined,
        ),
      { once: true },
    ),
  );
}

/** Fills the alerts list (firing first, at most 20) and keeps it live; re-renders every 5 s. */
export function alertsPanel(rm: Client<typeof ResourceMonitorService>): void {
  const alerts = new Map<string, Alert>();
  const list = byId("alerts");
  const upsert = (a: Alert) => {
    alerts.set(a.id, a);
    render();
  };
  const silenceButton = (a: Alert, silenced: boolean) => {
    const b = h(
      "button",
      { type: "button", class: "ghost", "data-action": silenced ? "unsilence" : "silence" },
      silenced ? "Unsilence" : "Silence",
    );
    b.addEventListener("click", async () => {
      const ask = silenced ? { seconds: 0, comment: "" } : await askSilence(a);
      if (ask === undefined) return;
      b.disabled = true;
      try {
        const r = await rm.silenceAlert({
          alertId: a.id,
          duration: { seconds: BigInt(ask.seconds) },
          comment: ask.comment,
        });
        // The answer has no alert once the silence is lifted: drop it from the one held.
        upsert(r.alert ?? { ...a, silencedUntil: undefined, silencedBy: "", silenceComment: "" });
        notice("alerts-notice", "", false);
      } catch (e) {
        notice("alerts-notice", `Silence: ${errorText(e)}`);
        b.disabled = false;
      }
    });
    return b;
  };
  const render = () => {
    const now = Date.now();
    const shown = visibleAlerts(alerts.values(), now);
    list.replaceChildren(
      ...shown.map((a) => {
        const st = alertStatus(a, now);
        const silenced = st.tone === "silenced";
        return h(
          "li",
          {
            "data-alert-id": a.id,
            "data-state": AlertState[a.state],
            "data-status": st.text,
          },
          h(
            "div",
            { class: "alert-head" },
            badge(st.text, silenced ? "idle" : alertTone(a.state)),
            " ",
            h("span", { class: "summary" }, a.summary || a.ruleId),
            silenceButton(a, silenced),
          ),
          silenced
            ? h(
                "div",
                { class: "reason", "data-silenced-until": st.until?.toISOString() },
                `${AlertState[a.state] ?? "?"}, silenced until ${when(st.until)}${a.silencedBy ? ` by ${a.silencedBy}` : ""}${a.silenceComment ? `: ${a.silenceComment}` : ""}`,
              )
            : null,
          h(
            "div",
            { class: "meta" },
            `${Severity[a.severity] ?? ""} · value ${a.value.toFixed(2)} vs ${a.threshold} · ${ago(dateOf(a.updateTime))}`,
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
