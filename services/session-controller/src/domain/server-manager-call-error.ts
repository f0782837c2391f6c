/**
 * Thrown by a ServerManagerClient when a call to server-manager failed: a refusal it answered with,
 * or an answer that never came (unavailable, cut, timed out).
 */
export class ServerManagerCallError extends Error {
  override readonly name = "ServerManagerCallError";
  constructor(
    /** The RPC that failed, e.g. "CreateServer". */
    readonly rpc: string,
    /** The failure's code by name, e.g. "NotFound", "Unavailable", "OutOfRange". */
    readonly code: string,
    /** The failure's message as server-manager (or the transport) gave it. */
    readonly detail: string,
    /**
     * Whether it says nothing was done and nothing will be (a refusal). Otherwise it is open
     * whether server-manager did it, and an idempotent retry is the way to find out.
     */
    readonly definite: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${rpc} failed (${code}): ${detail}`, options);
  }

  /** Whether server-manager does not know the server. */
  get notFound(): boolean {
    return this.code === "NotFound";
  }
}
