/** Servers as session-controller sees them through server-manager: plain values, no proto. */

/** A server's life-cycle state (server-manager's ServerState, by name). */
export type ManagedServerState =
  | "UNSPECIFIED"
  | "PROVISIONING"
  | "READY"
  | "DRAINING"
  | "STOPPING"
  | "STOPPED"
  | "FAILED";

/** A server of server-manager, with the fields session-controller reads. */
export interface ManagedServer {
  readonly id: string;
  readonly nodeId: string;
  /** The session it was made for; "" for a server made directly through CreateServer. */
  readonly sessionId: string;
  readonly state: ManagedServerState;
  /** Why it is in its state (server-manager's ServerStateReason name); undefined when unspecified. */
  readonly stateReason?: string;
  readonly stateMessage: string;
  /** Where clients connect, once it has one. */
  readonly endpoint?: { readonly host: string; readonly port: number };
  /**
   * The token the node's RDP front door (then the endpoint) routes the server's connections by;
   * undefined on a node without a door. A credential.
   */
  readonly routingToken?: string;
}

/** A change of a server, from server-manager's WatchServers. */
export interface ManagedServerEvent {
  /** The cursor to resume after this event. */
  readonly eventId: string;
  readonly type: "UNSPECIFIED" | "CREATED" | "STATE_CHANGED" | "UPDATED";
  readonly server?: ManagedServer;
}

/** A node's id and the address of its xrdp-integration, from server-manager's ListNodes. */
export interface ManagedNode {
  readonly id: string;
  readonly address?: { readonly host: string; readonly port: number };
}
