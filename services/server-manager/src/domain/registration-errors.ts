/** Why RegisterNode refuses a node. */

/** Thrown when a node may not register as it asks. */
export class RegistrationRefusedError extends Error {
  override readonly name = "RegistrationRefusedError";
  constructor(
    readonly nodeId: string,
    readonly why: string,
  ) {
    super(`node ${nodeId} cannot register: ${why}`);
  }
}

/** Thrown when a new node would exceed the configured number of nodes. */
export class TooManyNodesError extends Error {
  override readonly name = "TooManyNodesError";
  constructor(readonly max: number) {
    super(`the maximum number of nodes (${max}, SERVER_MANAGER_MAX_NODES) is reached`);
  }
}
