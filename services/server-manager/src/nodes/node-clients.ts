/** Clients of the nodes' xrdp-integration APIs, one per node address, over gRPC with deadlines. */

import type { Client } from "@connectrpc/connect";
import { XrdpIntegrationService } from "@lucid-rdp/gen";
import { createMeshClient } from "@lucid-rdp/runtime";
import type { NodeRecord } from "../store/records.js";

export type XrdpClient = Client<typeof XrdpIntegrationService>;

export class NodeClients {
  private readonly clients = new Map<string, XrdpClient>();

  constructor(private readonly opts: { deadlineMs: number; token?: string }) {}

  /** The client of a node's API (http://address). */
  forNode(node: Pick<NodeRecord, "address">): XrdpClient {
    let c = this.clients.get(node.address);
    if (c === undefined) {
      c = createMeshClient(XrdpIntegrationService, {
        baseUrl: `http://${node.address}`,
        deadlineMs: this.opts.deadlineMs,
        token: this.opts.token,
      });
      this.clients.set(node.address, c);
    }
    return c;
  }
}
