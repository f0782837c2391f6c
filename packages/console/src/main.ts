/**
 * The Lucid RDP console: one page, no framework. It calls session-controller (its own origin),
 * server-manager and resource-monitor with the generated clients over Connect (JSON, HTTP/1.1
 * fetch) and keeps every panel live with the Watch RPCs: each list is loaded once, then followed
 * from the list's last_event_id, and a dropped stream is reopened with backoff (re-listing, so
 * nothing is missed while it was down).
 *
 * This is the entry point esbuild bundles into app.js: it reads the page config and starts the
 * panels (panels/*), one module each. Everything user-controlled reaches the DOM as text nodes,
 * never as HTML.
 */
import {
  ResourceMonitorService,
  ServerManagerService,
  SessionControllerService,
} from "@lucid-rdp/gen";
import { createClientFactory } from "./clients.js";
import { byId, h, notice } from "./dom.js";
import { fetchPageConfig } from "./page-config.js";
import { alertsPanel } from "./panels/alerts-panel.js";
import { auditPanel } from "./panels/audit-panel.js";
import { hostHealthPanel } from "./panels/host-health-panel.js";
import { metricsPanel } from "./panels/metrics-panel.js";
import { nodesPanel } from "./panels/nodes-panel.js";
import { rulesPanel } from "./panels/rules-panel.js";
import { serversPanel } from "./panels/servers-panel.js";
import { sessionPage } from "./panels/session-page.js";
import { sessionsPanel } from "./panels/sessions-panel.js";
import { parseRoute } from "./route.js";
import { tokenForm } from "./token-form.js";

async function main(): Promise<void> {
  const cfg = await fetchPageConfig();
  const client = createClientFactory(cfg);

  if (cfg.authRequired) tokenForm();

  const sc = client(SessionControllerService, location.origin);
  const rm = cfg.resourceMonitorUrl
    ? client(ResourceMonitorService, cfg.resourceMonitorUrl)
    : undefined;
  sessionsPanel(sc);
  auditPanel(sc);
  if (cfg.serverManagerUrl) {
    const sm = client(ServerManagerService, cfg.serverManagerUrl);
    serversPanel(sm, rm);
    nodesPanel(sm);
  } else
    notice(
      "nodes-notice",
      "session-controller has no SERVER_MANAGER_URL: no servers or nodes to show.",
    );
  if (rm) {
    metricsPanel(rm);
    alertsPanel(rm);
    rulesPanel(rm);
    hostHealthPanel(rm);
  } else {
    for (const id of ["alerts-notice", "rules-notice", "health-notice"])
      notice(
        id,
        "Set CONSOLE_RESOURCE_MONITOR_URL on session-controller to see host charts, health and alerts.",
      );
  }

  // Hash routing: #/sessions/<id> shows that session's page, anything else the dashboard (whose
  // panels stay live underneath, so going back shows them current).
  const page = sessionPage(sc, rm);
  const route = () => {
    const r = parseRoute(location.hash);
    byId("dashboard").hidden = r.view !== "dashboard";
    byId("session-page").hidden = r.view !== "session";
    if (r.view === "session") page.show(r.id);
    else page.hide();
    window.scrollTo(0, 0);
  };
  window.addEventListener("hashchange", route);
  route();
}

main().catch((e: unknown) => {
  document.body.prepend(
    h("p", { class: "notice error" }, `The console failed to start: ${String(e)}`),
  );
});
