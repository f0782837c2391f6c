/**
 * The nodes table: ListNodes (server-manager) polled every 5 s (nodes have no watch): health
 * with its reason inline, capacity, warm pool, and drain/undrain (drain after a confirmation).
 */
import type { Client } from "@connectrpc/connect";
import type { Node as ClusterNode, ServerManagerService } from "@lucid-rdp/gen";
import { cell, stateCell } from "../cells.js";
import { confirmAction } from "../confirm-dialog.js";
import { byId, h, notice } from "../dom.js";
import { errorText } from "../format.js";
import { listAll } from "../list-all.js";
import { nodeBadge } from "../tones.js";

/** Fills the nodes table now and every 5 s; a failed poll shows in the nodes notice. */
export function nodesPanel(sm: Client<typeof ServerManagerService>): void {
  const nodesBody = byId("nodes").querySelector("tbody") as HTMLTableSectionElement;

  const drainButton = (n: ClusterNode) => {
    const b = h(
      "button",
      {
        type: "button",
        class: n.draining ? "ghost" : "danger",
        "data-action": n.draining ? "undrain" : "drain",
      },
      n.draining ? "Undrain" : "Drain",
    );
    b.addEventListener("click", async () => {
      if (
        !n.draining &&
        !(await confirmAction({
          title: `Drain ${n.id}?`,
          text: `${n.id} takes no new sessions until it is undrained; its ${n.serverCount} running server(s) keep running.`,
          confirm: "Drain",
        }))
      )
        return;
      b.disabled = true;
      try {
        if (n.draining) await sm.undrainNode({ nodeId: n.id });
        else await sm.drainNode({ nodeId: n.id });
        notice("nodes-notice", "", false);
      } catch (e) {
        notice("nodes-notice", `${n.draining ? "Undrain" : "Drain"} ${n.id}: ${errorText(e)}`);
      }
      await pollNodes();
    });
    return b;
  };

  const nodeRow = (n: ClusterNode): HTMLElement => {
    const b = nodeBadge(n);
    return h(
      "tr",
      { "data-node-id": n.id, "data-draining": String(n.draining) },
      cell("Node", n.id),
      stateCell(b.text, b.tone, n.healthMessage),
      cell("Servers", `${n.serverCount} / ${n.maxServers}`),
      // Door nodes take every RDP client on one port; others give each server a port of the range.
      cell(
        "RDP",
        n.rdpDoorPort > 0
          ? `door :${n.rdpDoorPort}`
          : n.portRange
            ? `${n.portRange.start}–${n.portRange.end}`
            : "–",
      ),
      cell(
        "Warm pool",
        n.warmPoolTarget > 0 ? `${n.warmPoolReady} / ${n.warmPoolTarget} ready` : "–",
      ),
      cell("xrdp", n.xrdpVersion || "–"),
      cell("", h("div", { class: "actions" }, drainButton(n))),
    );
  };

  const pollNodes = async () => {
    try {
      const { items } = await listAll(async (pageToken) => {
        const r = await sm.listNodes({ pageSize: 100, pageToken });
        return { items: r.nodes, next: r.nextPageToken };
      });
      items.sort((a, b) => a.id.localeCompare(b.id));
      nodesBody.replaceChildren(...items.map(nodeRow));
      if (items.length === 0) notice("nodes-notice", "No node has registered yet.", false);
    } catch (e) {
      notice("nodes-notice", errorText(e));
    }
  };
  void pollNodes();
  setInterval(() => void pollNodes(), 5_000);
}
