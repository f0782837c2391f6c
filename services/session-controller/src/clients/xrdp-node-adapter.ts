/** The XrdpNodeClient over xrdp-integration's generated Connect client. */
import type { Client } from "@connectrpc/connect";
import type { XrdpIntegrationService } from "@lucid-rdp/gen";
import type { XrdpNodeClient } from "./xrdp-node.js";

/** An XrdpNodeClient over the generated client of one node's xrdp-integration. */
export function createXrdpNodeClient(
  client: Client<typeof XrdpIntegrationService>,
): XrdpNodeClient {
  return {
    async countConnections(serverId) {
      const res = await client.listConnections({ serverId, pageSize: 1000 });
      return res.connections.length;
    },
  };
}
