/** The host-health panel: resource-monitor's GetHostHealth, polled every 5 s, every check's message inline. */
import type { Client } from "@connectrpc/connect";
import { HealthCheckStatus, HostHealthStatus, type ResourceMonitorService } from "@lucid-rdp/gen";
import { badge, byId, h, notice } from "../dom.js";
import { dateOf, errorText, when } from "../format.js";

const tone = (s: HostHealthStatus | HealthCheckStatus, ok: number, bad: number) =>
  s === ok ? "ok" : s === bad ? "bad" : "warn";

/** Fills the host-health panel now and every 5 s. */
export function hostHealthPanel(rm: Client<typeof ResourceMonitorService>): void {
  const poll = async () => {
    try {
      const { hostHealth: hh } = await rm.getHostHealth({});
      const status = hh?.status ?? HostHealthStatus.UNSPECIFIED;
      byId("host-health-status").replaceChildren(
        badge(
          HostHealthStatus[status] ?? "?",
          tone(status, HostHealthStatus.HEALTHY, HostHealthStatus.UNHEALTHY),
        ),
      );
      byId("host-health").replaceChildren(
        ...(hh?.checks ?? []).map((c) =>
          h(
            "li",
            { "data-check": c.name, "data-status": HealthCheckStatus[c.status] },
            h(
              "div",
              {},
              badge(
                HealthCheckStatus[c.status] ?? "?",
                tone(c.status, HealthCheckStatus.PASSING, HealthCheckStatus.FAILING),
              ),
              " ",
              h("strong", {}, c.name),
              c.fatal ? h("span", { class: "meta" }, " · fatal") : null,
            ),
            c.message ? h("span", { class: "reason" }, c.message) : null,
            h("span", { class: "meta" }, `checked ${when(dateOf(c.lastCheckTime))}`),
          ),
        ),
      );
      notice("health-notice", "", false);
    } catch (e) {
      notice("health-notice", errorText(e));
    }
  };
  void poll();
  setInterval(() => void poll(), 5_000);
}
