/** An xrdp instance as a node reports it, in the terms server-manager decides with. */

/** The life cycle states of an instance on a node. */
export type InstanceState =
  | "UNSPECIFIED"
  | "STARTING"
  | "READY"
  | "RESTARTING"
  | "STOPPING"
  | "STOPPED"
  | "FAILED";

/** The states in which an instance runs (or is about to): it holds its server's port. */
export const liveInstanceStates: ReadonlySet<InstanceState> = new Set([
  "STARTING",
  "READY",
  "RESTARTING",
]);

/** One instance on a node. */
export interface NodeInstance {
  readonly id: string;
  /** The server the instance serves; empty for an instance started for no server. */
  readonly serverId: string;
  readonly state: InstanceState;
  /** Why the instance is in its state; may be empty. */
  readonly stateMessage: string;
  /** Open RDP connections to the instance. */
  readonly connectionCount: number;
  /** When the node created it (whole milliseconds); absent when the node did not say. */
  readonly createTime?: Date;
  /**
   * The instance's routing token on a node with a front door: in StartInstance's answer only,
   * absent from every listing.
   */
  readonly routingToken?: string;
}
