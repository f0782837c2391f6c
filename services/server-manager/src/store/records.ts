/** The records server-manager keeps: servers and nodes, as plain TypeScript. Durations are ms; times are Dates. */
import type { Labels, Outboxed, Versioned } from "@lucid-rdp/storage";
import type { ServerState, ServerStateReason } from "../domain/server-state.js";
import type { XrdpSettings } from "../domain/xrdp-settings.js";

/** An RDP server placed on a node (issue 5). */
export interface ServerRecord extends Outboxed {
  readonly requestId?: string;
  /** A digest of the CreateServer parameters (paramsHash): the same request id with others is refused. */
  readonly requestHash?: string;
  readonly owner: string;
  readonly nodeId: string;
  /** The address clients connect to. */
  readonly host: string;
  /** The port clients connect to: the server's own (claimed in the port pool), or the node's door. */
  readonly port: number;
  /**
   * Clients reach the server through its node's RDP front door (at `port`) by its routing token:
   * it holds no port claim, and nothing of it is claimed or released in the port pool.
   */
  readonly viaDoor?: boolean;
  /**
   * The token the node's door routes the server's connections by, from StartInstance's answer
   * (the only call that carries it). A credential: never in logs or audit details.
   */
  readonly routingToken?: string;
  readonly state: ServerState;
  readonly stateReason?: ServerStateReason;
  readonly stateMessage?: string;
  /** Kept for records written before stateMessage existed. */
  readonly failureReason?: string;
  readonly labels: Labels;
  readonly sessionId?: string;
  /** The xrdp instance on the node. */
  readonly instanceId?: string;
  /** The xrdp settings the server was created with (the JSON form of the contract's message). */
  readonly settings?: XrdpSettings;
  /** Idle time after which the reaper destroys it; 0 or absent: never. */
  readonly idleTtlMs?: number;
  readonly lastActivityTime?: Date;
  readonly lastConnectionTime?: Date;
  readonly readyTime?: Date;
  readonly stopTime?: Date;
  /** When a graceful delete gives up and forces (DRAINING/STOPPING). */
  readonly deleteDeadline?: Date;
}

/** A host running xrdp-integration that servers are placed on (issue 5). */
export interface NodeRecord extends Versioned {
  /** host:port of the node's xrdp-integration API. */
  readonly address: string;
  /** The host clients connect to for RDP; the API host when absent. */
  readonly rdpHost?: string;
  readonly maxServers: number;
  readonly draining: boolean;
  /** Registered by heartbeat, or listed in static config. */
  readonly source: "registered" | "static";
  readonly lastHeartbeatTime?: Date;
  /** The heartbeat lapses after this long without a RegisterNode. */
  readonly heartbeatTtlMs: number;
  readonly portRangeStart: number;
  readonly portRangeEnd: number;
  readonly labels: Labels;
  readonly xrdpVersion?: string;
  /** The node's RDP front door port (its xrdp-integration's port); absent or 0: no door. */
  readonly rdpDoorPort?: number;
  /** How many warm instances the node keeps, as of its last heartbeat. */
  readonly warmPoolTarget?: number;
  /** How many warm instances the node had READY at its last heartbeat. */
  readonly warmPoolReady?: number;
  /** What the node said of itself at its last heartbeat. */
  readonly serving?: boolean;
  readonly statusMessage?: string;
}
