/** The records session-controller keeps: its sessions, as plain TypeScript. Durations are ms; times are Dates. */
import type { Labels, Outboxed } from "@lucid-rdp/storage";
import type {
  SessionDeadlines,
  SessionReusePolicy,
  SessionState,
  SessionStateReason,
} from "../domain/session-values.js";

/** A user's session (issue 6). */
export interface SessionRecord extends Outboxed {
  readonly requestId: string;
  /**
   * A digest of the CreateSession parameters (paramsHash): the same request id with others is
   * refused. Absent on records written before it existed.
   */
  readonly requestHash?: string;
  readonly user: string;
  readonly state: SessionState;
  readonly failureReason?: string;
  readonly serverId?: string;
  /** The node the server runs on. */
  readonly nodeId?: string;
  readonly host?: string;
  readonly port?: number;
  /**
   * The token the node's RDP front door routes the session's connections by (its server's), set
   * with the endpoint; absent on a node without a door. A credential: in connect info and the
   * .rdp file, never in logs or audit details.
   */
  readonly routingToken?: string;
  /** The time of the newest connection report applied (older ones are ignored). */
  readonly lastConnectionEventTime?: Date;
  readonly display: {
    readonly width: number;
    readonly height: number;
    readonly colorDepth: number;
    readonly monitors: number;
  };
  readonly client?: {
    readonly name?: string;
    readonly address?: string;
    readonly version?: string;
  };
  /** Timer lengths in ms, after defaults and overrides. */
  readonly policy: Readonly<Record<string, number>>;
  readonly labels: Labels;
  readonly deadlines: SessionDeadlines;
  /** The earliest deadline (or warning) still to act on: what the timer loop queries. */
  readonly nextDeadline?: Date;
  readonly connectionCount: number;
  readonly connectedTime?: Date;
  readonly disconnectedTime?: Date;
  readonly lastActivityTime?: Date;
  readonly endTime?: Date;
  /** Why the session entered TERMINATING, TERMINATED or FAILED; absent while live. */
  readonly stateReason?: SessionStateReason;
  /** A human-readable explanation of the state. */
  readonly stateMessage?: string;
  /** The reuse policy in force (`policy` holds only the timer lengths); absent: the default. */
  readonly reusePolicy?: SessionReusePolicy;
  /** When the session became READY: the connect deadline runs from here. */
  readonly readyTime?: Date;
  /** When the last KeepAlive arrived: the keepalive expiry runs from here (or creation). */
  readonly lastKeepAliveTime?: Date;
  /**
   * For each timer, the deadline whose warning was sent. A warning is due again only when its
   * timer's deadline moves (for example the idle timer after activity), so a restart never
   * repeats one.
   */
  readonly warned?: SessionDeadlines;
  /** RDP connections ever opened to the session. */
  readonly connectCount?: number;
  /** How many times a client came back after a disconnect. */
  readonly reconnects?: number;
  /** Time at least one client was connected, up to the last disconnect (ms). */
  readonly totalConnectedMs?: number;
}
