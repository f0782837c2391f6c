/** Who asked for a change: written to the audit log with it. */
export interface Actor {
  readonly subject: string;
  readonly roles: readonly string[];
}

/** session-controller itself (timers, repairs, followers) as the actor of a change. */
export const systemActor: Actor = { subject: "session-controller", roles: ["service"] };
