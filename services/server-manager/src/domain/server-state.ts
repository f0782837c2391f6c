/**
 * The server life cycle: PROVISIONING -> READY -> DRAINING -> STOPPING -> STOPPED, or FAILED with a
 * reason. Every change goes through `nextState`, so an illegal transition cannot be stored.
 */
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

const allowed: Readonly<Record<ServerState, readonly ServerState[]>> = {
  PROVISIONING: ["READY", "STOPPING", "FAILED"],
  READY: ["DRAINING", "STOPPING", "FAILED"],
  DRAINING: ["STOPPING", "FAILED"],
  STOPPING: ["STOPPED", "FAILED"],
  STOPPED: [],
  FAILED: [],
};

/** Thrown when a change of state is not part of the life cycle. */
export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";
  constructor(
    readonly serverId: string,
    readonly from: ServerState,
    readonly to: ServerState,
  ) {
    super(`server ${serverId} cannot go from ${from} to ${to}`);
  }
}

/** True when `from` may change to `to`. */
export function canTransition(from: ServerState, to: ServerState): boolean {
  return allowed[from].includes(to);
}

/** Returns `to`, or throws IllegalTransitionError. */
export function nextState(serverId: string, from: ServerState, to: ServerState): ServerState {
  if (!canTransition(from, to)) throw new IllegalTransitionError(serverId, from, to);
  return to;
}

/** STOPPED and FAILED end a server's life. */
export function isTerminal(state: ServerState): boolean {
  return allowed[state].length === 0;
}
