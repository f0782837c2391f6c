/** How a node's StartInstance failed, in the terms a create decides on. */

/**
 * - "uncertain": the instance may have started (or may yet start), or the node never saw the call:
 *   the same call later can succeed;
 * - "port_in_use": the node cannot bind the port (nothing started);
 * - "refused": the node refused the request for certain (invalid, or at its capacity);
 * - "failed": any other definite answer of the node.
 */
export type StartFailure = "uncertain" | "port_in_use" | "refused" | "failed";

/** Thrown when a node's StartInstance fails; `cause` is the error the node's client raised. */
export class StartInstanceFailedError extends Error {
  override readonly name = "StartInstanceFailedError";
  constructor(
    readonly failure: StartFailure,
    /** The node's own message, without any prefix. */
    readonly nodeMessage: string,
    options: { readonly cause: unknown },
  ) {
    super(`StartInstance failed (${failure}): ${nodeMessage}`, options);
  }
}
