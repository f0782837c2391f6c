/** session-controller's own domain errors (caps, policy and transitions have theirs beside them). */
import type { SessionState } from "./session-values.js";

/** Thrown when CreateSession cannot reach server-manager because none is configured. */
export class NoServerManagerError extends Error {
  override readonly name = "NoServerManagerError";
  constructor() {
    super("no server-manager is configured (SERVER_MANAGER_URL): sessions cannot get servers");
  }
}

/** Thrown when a call needs a live session and the session has ended (or is ending). */
export class SessionEndedError extends Error {
  override readonly name = "SessionEndedError";
  constructor(
    readonly sessionId: string,
    readonly state: SessionState,
  ) {
    super(`session ${sessionId} is ${state}`);
  }
}
