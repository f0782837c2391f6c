/** What a node says of itself when it registers or renews its heartbeat lease (RegisterNode). */
export interface NodeRegistration {
  readonly nodeId: string;
  /** host:port of the node's xrdp-integration API (IPv6 hosts in brackets). */
  readonly address: string;
  /** The host clients connect to for RDP; the API host when absent. */
  readonly rdpHost?: string;
  readonly maxServers: number;
  /** The ports the node offers to servers (0-0 when it sent none). */
  readonly portRange: { readonly start: number; readonly end: number };
  readonly labels: Readonly<Record<string, string>>;
  /** How long the lease runs without another heartbeat; the default when absent. */
  readonly leaseTtlMs?: number;
  readonly xrdpVersion?: string;
  /** The node's RDP front door port; 0 when it has none. */
  readonly rdpDoorPort: number;
  /** How many warm instances the node keeps (0: no pool). */
  readonly warmPoolTarget: number;
  /** How many warm instances are READY now. */
  readonly warmPoolReady: number;
  readonly serving: boolean;
  readonly statusMessage?: string;
}
