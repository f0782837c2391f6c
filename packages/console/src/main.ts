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
import { h, notice } from "./dom.js";
import { fetchPageConfig } from "./page-config.js";
import { alertsPanel } from "./panels/alerts-panel.js";
import { metricsPanel } from "./panels/metrics-panel.js";
import { nodesPanel } from "./panels/nodes-panel.js";
import { serversPanel } from "./panels/servers-panel.js";
import { sessionsPanel } from "./panels/sessions-panel.js";
import { tokenForm } from "./token-form.js";

async function main(): Promise<void> {
  const cfg = await fetchPageConfig();
  const client = createClientFactory(cfg);

  if (cfg.authRequired) tokenForm();

  sessionsPanel(client(SessionControllerService, location.origin));
  if (cfg.serverManagerUrl) {
    const sm = client(ServerManagerService, cfg.serverManagerUrl);
    serversPanel(sm);
    nodesPanel(sm);
  } else
    notice(
      "nodes-notice",
      "session-controller has no SERVER_MANAGER_URL: no servers or nodes to show.",
    );
  if (cfg.resourceMonitorUrl) {
    const rm = client(ResourceMonitorService, cfg.resourceMonitorUrl);
    metricsPanel(rm);
    alertsPanel(rm);
  } else {
    notice(
      "alerts-notice",
      "Set CONSOLE_RESOURCE_MONITOR_URL on session-controller to see host charts and alerts.",
    );
  }
}

main().catch((e: unknown) => {
  document.body.prepend(
    h("p", { class: "notice error" }, `The console failed to start: ${String(e)}`),
  );
});
