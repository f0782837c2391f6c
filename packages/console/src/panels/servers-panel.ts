/**
 * The servers table: live from ListServers + WatchServers (server-manager), with each server's
 * CPU and memory from resource-monitor.
 *
 * ListServers and WatchServers carry no usage (only GetServer asks resource-monitor for it), so
 * the columns were always "–": the panel now asks resource-monitor's GetServerUsage for each
 * server it shows, every 5 s.
 */
import type { Client } from "@connectrpc/connect";
import {
  type ResourceMonitorService,
  type ResourceUsage,
  type Server,
  type ServerManagerService,
  ServerState,
} from "@lucid-rdp/gen";
import { cell, stateCell } from "../cells.js";
import { byId, h } from "../dom.js";
import { bytes, percent, shortId } from "../format.js";
import { listAll } from "../list-all.js";
import { live } from "../live.js";
import { visibleServers } from "../selectors.js";
import { serverTone } from "../tones.js";

/** Fills the servers table (all but STOPPED ones) and keeps it live. */
export function serversPanel(
  sm: Client<typeof ServerManagerService>,
  rm: Client<typeof ResourceMonitorService> | undefined,
): void {
  const servers = new Map<string, Server>();
  const usage = new Map<string, ResourceUsage>();
  const tbody = byId("servers").querySelector("tbody") as HTMLTableSectionElement;
  const render = () => {
    const shown = visibleServers(servers.values());
    tbody.replaceChildren(
      ...shown.map((s) => {
        const u = usage.get(s.id) ?? s.usage;
        return h(
          "tr",
          { "data-server-id": s.id, "data-state": ServerState[s.state] },
          h("td", { "data-label": "Server", title: s.id }, h("code", {}, shortId(s.id))),
          cell("Node", s.nodeId),
          cell("Owner", s.owner),
          stateCell(ServerState[s.state] ?? "?", serverTone(s.state), s.stateMessage),
          cell(
            "Endpoint",
            s.endpoint ? h("code", {}, `${s.endpoint.host}:${s.endpoint.port}`) : "–",
          ),
          h("td", { "data-label": "CPU", "data-usage": "cpu" }, u ? percent(u.cpuPercent) : "–"),
          h(
            "td",
            { "data-label": "Memory", "data-usage": "memory" },
            u ? bytes(u.memoryRssBytes) : "–",
          ),
        );
      }),
    );
    byId("servers-empty").hidden = shown.length > 0;
  };
  const pollUsage = async () => {
    if (rm === undefined) return;
    // Only servers that run: resource-monitor knows no process of the others (NOT_FOUND).
    const shown = visibleServers(servers.values()).filter(
      (s) => s.state === ServerState.READY || s.state === ServerState.DRAINING,
    );
    await Promise.all(
      shown.map(async (s) => {
        try {
          const { serverUsage } = await rm.getServerUsage({
            target: { case: "serverId", value: s.id },
          });
          if (serverUsage?.usage) usage.set(s.id, serverUsage.usage);
          else usage.delete(s.id);
        } catch {
          // Not sampled yet or gone: the row keeps "–" until a sample exists.
          usage.delete(s.id);
        }
      }),
    );
    render();
  };
  live("servers", async (signal, up) => {
    const { items, lastEventId } = await listAll(async (pageToken) => {
      const r = await sm.listServers({ pageSize: 100, pageToken }, { signal });
      return { items: r.servers, next: r.nextPageToken, lastEventId: r.lastEventId };
    });
    servers.clear();
    for (const s of items) servers.set(s.id, s);
    render();
    void pollUsage();
    up();
    for await (const ev of sm.watchServers({ afterEventId: lastEventId }, { signal })) {
      if (ev.server) servers.set(ev.server.id, ev.server);
      render();
    }
  });
  setInterval(() => void pollUsage(), 5_000);
}
