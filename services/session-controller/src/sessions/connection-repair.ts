/**
 * Repairs missed connection reports by polling: for each connected-able session, the node's
 * ListConnections count for its server, applied as a report would be. Node addresses come from
 * server-manager's ListNodes.
 *
 * This relies on xrdp-integration's ListConnections listing only logged-in connections (a client
 * that logged in to the session's desktop), the same facts its CONNECTED and DISCONNECTED reports
 * carry. A TCP connection still at xrdp's login, or whose login was refused, is not listed, so the
 * poll can never turn it into ACTIVE; a refused login reaches session-controller only as a
 * LOGIN_REFUSED report, which changes no state. Were ListConnections to list plain TCP connections
 * again, a refused (or never finished) login held open would make the session ACTIVE here.
 */
import type { Clock, Logger } from "@lucid-rdp/runtime";
import type { ServerManagerClient } from "../clients/server-manager.js";
import type { XrdpNodeClient } from "../clients/xrdp-node.js";
import type { SessionStore } from "../store/stores.js";
import type { Sessions } from "./sessions.js";

export interface ConnectionRepairOptions {
  readonly store: SessionStore;
  readonly sessions: Sessions;
  readonly serverManager: ServerManagerClient;
  readonly logger: Logger;
  readonly clock: Clock;
  /** A client for the xrdp-integration at a node's base URL. */
  readonly nodeClient: (baseUrl: string) => XrdpNodeClient;
}

export class ConnectionRepair {
  private readonly nodes = new Map<string, XrdpNodeClient>();

  constructor(private readonly opts: ConnectionRepairOptions) {}

  private async nodeClient(nodeId: string): Promise<XrdpNodeClient | undefined> {
    if (!this.nodes.has(nodeId)) {
      const nodes = await this.opts.serverManager.listNodes();
      for (const n of nodes) {
        if (this.nodes.has(n.id) || n.address === undefined) continue;
        const host = n.address.host.includes(":") ? `[${n.address.host}]` : n.address.host;
        const baseUrl = `http://${host}:${n.address.port}`;
        this.nodes.set(n.id, this.opts.nodeClient(baseUrl));
      }
    }
    return this.nodes.get(nodeId);
  }

  async tick(signal?: AbortSignal): Promise<void> {
    const page = await this.opts.store.list({
      where: { state: { in: ["READY", "ACTIVE", "DISCONNECTED"] } },
      pageSize: 500,
      signal,
    });
    for (const s of page.items) {
      if (!s.serverId || !s.nodeId) continue;
      try {
        const client = await this.nodeClient(s.nodeId);
        if (!client) continue;
        // Logged-in connections only (see above): a refused login is never counted here.
        const count = await client.countConnections(s.serverId);
        if (count > 0 && (s.state === "READY" || s.state === "DISCONNECTED")) {
          await this.opts.sessions.connectionChanged(s.id, "CONNECTED", count, this.opts.clock());
        } else if (count === 0 && s.state === "ACTIVE") {
          await this.opts.sessions.connectionChanged(s.id, "DISCONNECTED", 0, this.opts.clock());
        }
      } catch (e) {
        this.opts.logger.debug({ err: e, session: s.id }, "connection poll failed");
      }
    }
  }
}
