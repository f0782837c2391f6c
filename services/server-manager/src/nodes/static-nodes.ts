/** Nodes listed in config (SERVER_MANAGER_NODES) are stored as static nodes at start. */
import { AlreadyExistsError } from "@lucid-rdp/storage";
import type { ServerManagerConfig } from "../config.js";
import { joinAddress } from "../domain/address.js";
import type { NodeStore } from "../store/stores.js";

export async function seedStaticNodes(nodes: NodeStore, cfg: ServerManagerConfig): Promise<void> {
  for (const n of cfg.staticNodes) {
    const existing = await nodes.find(n.id);
    const fields = {
      address: joinAddress(n.host, n.port),
      rdpHost: n.host,
      maxServers: cfg.staticMaxServers,
      portRangeStart: cfg.staticPortRange.start,
      portRangeEnd: cfg.staticPortRange.end,
      // The reaper's GetHostInfo refreshes this; lapsing means unreachable.
      heartbeatTtlMs: Math.max(3 * cfg.reaperIntervalMs, 15_000),
    };
    if (existing === undefined) {
      try {
        await nodes.insert({ id: n.id, source: "static", draining: false, labels: {}, ...fields });
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e; // another replica stored it first
      }
    } else if (existing.source === "static") {
      await nodes.update(existing.id, existing.version, fields);
    }
  }
}
