/** What session-controller asks of a node's xrdp-integration, in domain terms. */

/** A node's xrdp-integration, as the connection repair polls it. */
export interface XrdpNodeClient {
  /** How many logged-in connections the server has now (ListConnections). */
  countConnections(serverId: string): Promise<number>;
}
