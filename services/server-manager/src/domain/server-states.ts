/** The states of a server and why it entered them. */

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

/** States in which a server holds its port. */
export const liveServerStates: readonly ServerState[] = [
  "PROVISIONING",
  "READY",
  "DRAINING",
  "STOPPING",
];
