/** The servers table: live from ListServers + WatchServers (server-manager). */
import type { Client } from "@connectrpc/connect";
import { type Server, type ServerManagerService, ServerState } from "@lucid-rdp/gen";
import { badge, byId, h } from "../dom.js";
import { bytes, shortId } from "../format.js";
import { listAll } from "../list-all.js";
import { live } from "../live.js";
import { visibleServers } from "../selectors.js";
import { serverTone } from "../tones.js";

/** Fills the servers table (all but STOPPED ones) and keeps it live. */
export function serversPanel(sm: Client<typeof ServerManagerService>): void {
  const servers = new Map<string, Server>();
  const tbody = byId("servers").querySelector("tbody") as HTMLTableSectionElement;
  const render = () => {
    const shown = visibleServers(servers.values());
    tbody.replaceChildren(
      ...shown.map((s) =>
        h(
          "tr",
          { "data-server-id": s.id, "data-state": ServerState[s.state] },
          h("td", { title: s.id }, h("code", {}, shortId(s.id))),
          h("td", {}, s.nodeId),
          h("td", {}, s.owner),
          h(
            "td",
            { title: s.stateMessage || undefined },
            badge(ServerState[s.state] ?? "?", serverTone(s.state)),
          ),
          h("td", {}, s.endpoint ? h("code", {}, `${s.endpoint.host}:${s.endpoint.port}`) : "–"),
          h("td", {}, s.usage ? `${s.usage.cpuPercent.toFixed(1)}%` : "–"),
          h("td", {}, s.usage ? bytes(s.usage.memoryRssBytes) : "–"),
        ),
      ),
    );
    byId("servers-empty").hidden = shown.length > 0;
  };
  live("servers", async (signal, up) => {
    const { items, lastEventId } = await listAll(async (pageToken) => {
      const r = await sm.listServers({ pageSize: 100, pageToken }, { signal });
      return { items: r.servers, next: r.nextPageToken, lastEventId: r.lastEventId };
    });
    servers.clear();
    for (const s of items) servers.set(s.id, s);
    render();
    up();
    for await (const ev of sm.watchServers({ afterEventId: lastEventId }, { signal })) {
      if (ev.server) servers.set(ev.server.id, ev.server);
      render();
    }
  });
}
