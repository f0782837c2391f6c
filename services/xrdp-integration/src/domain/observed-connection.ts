/** A logged-in RDP connection to an instance, and a change of them as peers are told of it. */

/** A logged-in connection to an instance, as the connection watcher sees it. */
export interface ObservedConnection {
  readonly instanceId: string;
  readonly serverId: string;
  readonly localPort: number;
  readonly peer: { readonly address: string; readonly port: number };
  /** When the login was seen (within one polling interval). */
  readonly establishTime: Date;
  /** The X display of the desktop the connection logged in to. */
  readonly display?: number;
}

/** A change of an instance's connections, as session-controller is told of it. */
export interface ConnectionChange {
  /** Makes a retried report count once. */
  readonly requestId: string;
  readonly type: "CONNECTED" | "DISCONNECTED" | "LOGIN_REFUSED";
  readonly connection: ObservedConnection;
  /** Connections to the instance after this change. */
  readonly connectionCount: number;
}
