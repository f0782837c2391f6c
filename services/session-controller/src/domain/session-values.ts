/** The states of a session, its deadlines, and why it ended. */

export type SessionState =
  | "PENDING"
  | "PROVISIONING"
  | "READY"
  | "ACTIVE"
  | "DISCONNECTED"
  | "TERMINATING"
  | "TERMINATED"
  | "FAILED";

/** The states in which a session still holds (or is getting) a server: not yet TERMINATED or FAILED. */
export const liveSessionStates: readonly SessionState[] = [
  "PENDING",
  "PROVISIONING",
  "READY",
  "ACTIVE",
  "DISCONNECTED",
  "TERMINATING",
];

/** The states in which a session can still be used (CreateSession reuse, keepalives, reports). */
export const usableSessionStates: readonly SessionState[] = [
  "PENDING",
  "PROVISIONING",
  "READY",
  "ACTIVE",
  "DISCONNECTED",
];

/** The states in which a session stands on a running server: its server's end ends them. */
export const serverBoundStates: readonly SessionState[] = ["READY", "ACTIVE", "DISCONNECTED"];

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
