/** The request ids already answered (AIP-155), over the idempotency records. */
import { type IdempotencyStore, type IdempotentOptions, runIdempotent } from "@lucid-rdp/storage";

/** Runs a call once per request id, remembering its result for `ttlMs`. */
export class RequestLedger {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly ttlMs: number,
  ) {}

  /**
   * Runs `create` once per (scope, request id); see runIdempotent.
   * @throws RequestIdReusedError, RequestInProgressError
   */
  runOnce(
    opts: Omit<IdempotentOptions, "ttlMs">,
    create: () => Promise<string>,
  ): Promise<{ resultId: string; created: boolean }> {
    return runIdempotent(this.store, { ...opts, ttlMs: this.ttlMs }, create);
  }
}
