/** The nodes table: ListNodes (server-manager) polled every 5 s; nodes have no watch. */
import type { Client } from "@connectrpc/connect";
import type { Node as ClusterNode, ServerManagerService } from "@lucid-rdp/gen";
import { badge, byId, h, notice } from "../dom.js";
import { errorText } from "../format.js";
import { listAll } from "../list-all.js";
import { nodeBadge } from "../tones.js";

/** One row of the nodes table. */
function nodeRow(n: ClusterNode): HTMLElement {
  const b = nodeBadge(n);
  return h(
    "tr",
    { "data-node-id": n.id },
    h("td", {}, n.id),
    h("td", { title: n.healthMessage || undefined }, badge(b.text, b.tone)),
    h("td", {}, `${n.serverCount} / ${n.maxServers}`),
    // Door nodes take every RDP client on one port; others give each server a port of the range.
    h(
      "td",
      {},
      n.rdpDoorPort > 0
        ? `door :${n.rdpDoorPort}`
        : n.portRange
          ? `${n.portRange.start}–${n.portRange.end}`
          : "–",
    ),
    h("td", {}, n.warmPoolTarget > 0 ? `${n.warmPoolReady} / ${n.warmPoolTarget} ready` : "–"),
    h("td", {}, n.xrdpVersion || "–"),
  );
}

/** Fills the nodes table now and every 5 s; a failed poll shows in the nodes notice. */
export function nodesPanel(sm: Client<typeof ServerManagerService>): void {
  const nodesBody = byId("nodes").querySelector("tbody") as HTMLTableSectionElement;
  const pollNodes = async () => {
    try {
      const { items } = await listAll(async (pageToken) => {
        const r = await sm.listNodes({ pageSize: 100, pageToken });
        return { items: r.nodes, next: r.nextPageToken };
      });
      nodesBody.replaceChildren(...items.map(nodeRow));
      notice("nodes-notice", items.length === 0 ? "No node has registered yet." : "", false);
    } catch (e) {
      notice("nodes-notice", errorText(e));
    }
  };
  void pollNodes();
  setInterval(() => void pollNodes(), 5_000);
}
