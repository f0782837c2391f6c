/** What this node tells server-manager about itself on every heartbeat (RegisterNode). */

/** What the node reports about itself on every heartbeat, apart from its health. */
export interface NodeRegistration {
  /** The node's id (NODE_ID): a DNS label. */
  readonly nodeId: string;
  /** The host server-manager reaches this service's API on. */
  readonly advertiseHost: string;
  /** The port this service's API is bound to. */
  readonly apiPort: number;
  /** The host RDP clients connect to. */
  readonly rdpHost: string;
  /** The most servers (xrdp instances) the node may hold at once. */
  readonly maxServers: number;
  /** The ports servers on the node may use, inclusive. */
  readonly portRange: { readonly start: number; readonly end: number };
  readonly labels: Readonly<Record<string, string>>;
  /** How long the lease lasts unless renewed. */
  readonly leaseTtlMs: number;
  /** The installed xrdp version, or undefined when xrdp is missing. */
  readonly xrdpVersion?: string;
  /** The RDP front door's port (the API port, RDP_DOOR=on), or undefined without a door. */
  readonly rdpDoorPort?: number;
}

/** The node's health at the time of a heartbeat. */
export interface NodeStatus {
  readonly serving: boolean;
  /** Why the node is not serving; ignored while serving. */
  readonly message?: string;
  /** The warm pool: its target and how many are READY. */
  readonly warmPool?: { readonly target: number; readonly ready: number };
}
