/**
 * The records the services keep, as plain TypeScript: no proto types, no Mongo documents. Each
 * service maps them to and from its contract messages at the edge, by whitelisting fields.
 * Durations are milliseconds; times are Dates.
 */
import type { Versioned } from "../documents/collection.js";
import type { Outboxed } from "../documents/repository.js";

export type Labels = Readonly<Record<string, string>>;

// ---- server-manager ------------------------------------------------------------------------

export type ServerState = "PROVISIONING" | "READY" | "DRAINING" | "STOPPING" | "STOPPED" | "FAILED";

/** Why a server entered DRAINING, STOPPING, STOPPED or FAILED. */
export type ServerStateReason =
  | "DELETE_REQUESTED"
  | "IDLE_TTL_EXPIRED"
  | "SESSION_ENDED"
  | "PROVISIONING_FAILED"
  | "INSTANCE_FAILED"
  | "INSTANCE_VANISHED"
  | "NODE_LOST";

/** An RDP server placed on a node (issue 5). */
export interface ServerRecord extends Outboxed {
  readonly requestId?: string;
  /** A digest of the CreateServer parameters (paramsHash): the same request id with others is refused. */
  readonly requestHash?: string;
  readonly owner: string;
  readonly nodeId: string;
  /** The address clients connect to. */
  readonly host: string;
  readonly port: number;
  readonly state: ServerState;
  readonly stateReason?: ServerStateReason;
  readonly stateMessage?: string;
  /** Kept for records written before stateMessage existed. */
  readonly failureReason?: string;
  readonly labels: Labels;
  readonly sessionId?: string;
  /** The xrdp instance on the node. */
  readonly instanceId?: string;
  /** The xrdp settings the server was created with (plain, as the domain types them). */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Idle time after which the reaper destroys it; 0 or absent: never. */
  readonly idleTtlMs?: number;
  readonly lastActivityTime?: Date;
  readonly lastConnectionTime?: Date;
  readonly readyTime?: Date;
  readonly stopTime?: Date;
  /** When a graceful delete gives up and forces (DRAINING/STOPPING). */
  readonly deleteDeadline?: Date;
}

/** States in which a server holds its port. */
export const liveServerStates: readonly ServerState[] = [
  "PROVISIONING",
  "READY",
  "DRAINING",
  "STOPPING",
];

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
  /** What the node said of itself at its last heartbeat. */
  readonly serving?: boolean;
  readonly statusMessage?: string;
}

// ---- xrdp-integration ----------------------------------------------------------------------

export type InstanceState = "STARTING" | "READY" | "RESTARTING" | "STOPPING" | "STOPPED" | "FAILED";

export const liveInstanceStates: readonly InstanceState[] = [
  "STARTING",
  "READY",
  "RESTARTING",
  "STOPPING",
];

/** Why an instance entered RESTARTING, STOPPING, STOPPED or FAILED. */
export type InstanceStateReason =
  | "STOP_REQUESTED"
  | "PROCESS_EXITED"
  | "CRASH_LOOP"
  | "READINESS_TIMEOUT"
  | "PROCESS_MISSING"
  | "SERVICE_SHUTDOWN";

/** One xrdp process on this host (issue 4). */
export interface InstanceRecord extends Outboxed {
  /** The StartInstance request id (AIP-155). */
  readonly requestId?: string;
  readonly serverId: string;
  readonly port: number;
  readonly state: InstanceState;
  readonly stateReason?: InstanceStateReason;
  readonly stateMessage?: string;
  /** Kept for records written before stateMessage existed. */
  readonly failureReason?: string;
  readonly pid?: number;
  /** Process start time from /proc/<pid>/stat (clock ticks), so a recycled pid is not mistaken. */
  readonly pidStartTicks?: number;
  readonly processStartTime?: Date;
  readonly restartCount: number;
  readonly nextRestartTime?: Date;
  readonly lastExit?: { readonly exitCode?: number; readonly signal?: string; readonly time: Date };
  /** The settings StartInstance was given (plain, as the domain types them). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** The settings in force after defaults and the security floor. */
  readonly effectiveSettings?: Readonly<Record<string, unknown>>;
  readonly tlsCertSha256?: string;
  /** The instance's directory (config, TLS material, logs). */
  readonly configDir?: string;
  readonly readyTime?: Date;
  readonly stopTime?: Date;
  /** The one local account whose desktop logins the instance admits. */
  readonly owner?: string;
  /** The loopback address of the instance's own xrdp-sesman (XRDP_SESMAN=managed). */
  readonly sesmanAddress?: string;
  /** The pid and start time of that sesman, so a restarted service adopts it. */
  readonly sesmanPid?: number;
  readonly sesmanStartTicks?: number;
  /** The X displays the instance's desktops may use: `displayFirst .. displayFirst + displayCount - 1`. */
  readonly displayFirst?: number;
  readonly displayCount?: number;
}

// ---- session-controller --------------------------------------------------------------------

export type SessionState =
  | "PENDING"
  | "PROVISIONING"
  | "READY"
  | "ACTIVE"
  | "DISCONNECTED"
  | "TERMINATING"
  | "TERMINATED"
  | "FAILED";

export const liveSessionStates: readonly SessionState[] = [
  "PENDING",
  "PROVISIONING",
  "READY",
  "ACTIVE",
  "DISCONNECTED",
  "TERMINATING",
];

/** The five session timers (issue 6), as absolute deadlines. */
export interface SessionDeadlines {
  readonly connect?: Date;
  readonly idle?: Date;
  readonly disconnected?: Date;
  readonly maxDuration?: Date;
  readonly keepalive?: Date;
}

/** Why a session entered TERMINATING, TERMINATED or FAILED (SessionStateReason in the proto). */
export type SessionStateReason =
  | "TERMINATE_REQUESTED"
  | "CONNECT_DEADLINE"
  | "IDLE_TIMEOUT"
  | "DISCONNECTED_LIMIT"
  | "MAX_DURATION"
  | "KEEPALIVE_EXPIRED"
  | "PROVISIONING_FAILED"
  | "SERVER_FAILED"
  | "SERVER_DELETED";

/** Whether CreateSession hands back a session the user already has (SessionReusePolicy). */
export type SessionReusePolicy = "EXISTING" | "DISCONNECTED" | "NEVER";

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

// ---- resource-monitor ----------------------------------------------------------------------

export type Comparison = "GT" | "GTE" | "LT" | "LTE" | "EQ" | "NE";
export type Severity = "INFO" | "WARNING" | "CRITICAL";

/**
 * How a label matcher compares (MatchOperator in the proto). REGEX and NOT_REGEX (anchored, as in
 * Prometheus) are not reachable through the v1 contract, which has EQUAL and NOT_EQUAL only.
 */
export type LabelMatchOperator = "EQUAL" | "NOT_EQUAL" | "REGEX" | "NOT_REGEX";

/** One matcher of an alert rule's selector (LabelMatcher in the proto). */
export interface AlertLabelMatcher {
  readonly name: string;
  readonly operator: LabelMatchOperator;
  readonly value: string;
}

/** An alert rule (issue 7). */
export interface AlertRuleRecord extends Versioned {
  readonly name: string;
  readonly metric: string;
  readonly selector: Labels;
  readonly comparison: Comparison;
  readonly threshold: number;
  readonly forMs: number;
  readonly severity: Severity;
  readonly labels: Labels;
  readonly enabled: boolean;
  /**
   * The whole selector, in order (every matcher must hold). When present, `selector` is ignored;
   * when absent (records written before it existed), `selector` is the selector, as equality
   * matchers.
   */
  readonly matchers?: readonly AlertLabelMatcher[];
  /** A description copied onto every alert of the rule; absent or empty for none. */
  readonly summary?: string;
}

export type AlertState = "PENDING" | "FIRING" | "RESOLVED";

/** One alert of a rule, for one labelled series (issue 7). */
export interface AlertRecord extends Outboxed {
  readonly ruleId: string;
  /** A stable digest of the series' labels. */
  readonly fingerprint: string;
  readonly state: AlertState;
  readonly labels: Labels;
  readonly value: number;
  readonly activeSince: Date;
  readonly firedTime?: Date;
  readonly resolvedTime?: Date;
  readonly silencedUntil?: Date;
  /** Who silenced the alert (a token's `sub`); absent when not silenced. */
  readonly silencedBy?: string;
  /** Why the alert was silenced; absent when not silenced or no comment was given. */
  readonly silenceComment?: string;
  /** The rule's severity at the last evaluation (kept on the alert so lists can filter by it). */
  readonly severity?: Severity;
  /** The rule's summary at the last evaluation. */
  readonly summary?: string;
  /** The rule's threshold at the last evaluation. */
  readonly threshold?: number;
  /** When the rule was last evaluated for this series. */
  readonly lastEvaluationTime?: Date;
}

// ---- shared ----------------------------------------------------------------------------------

/** The first outcome of a create, by request id (AIP-155). */
export interface IdempotencyRecord extends Versioned {
  /** The method, e.g. "CreateSession". */
  readonly scope: string;
  readonly requestId: string;
  /** A digest of the request's parameters: the same id with other parameters is refused. */
  readonly paramsHash: string;
  readonly state: "PENDING" | "DONE";
  /** The created resource's id once DONE. */
  readonly resultId?: string;
  readonly expireTime: Date;
}

/** Who did what to which resource, and when. */
export interface AuditEventRecord extends Versioned {
  readonly time: Date;
  readonly actorSubject: string;
  readonly actorRoles: readonly string[];
  readonly action: string;
  readonly resourceType: "session" | "server" | "node" | "instance" | "alert_rule" | "alert";
  readonly resourceId: string;
  readonly requestId?: string;
  readonly details: Labels;
}
