/** Turns driver failures that mean "the database is not there" into BackendUnavailableError. */
import { BackendUnavailableError } from "../errors.js";

const unavailable = new Set([
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoServerSelectionError",
  "MongoNotConnectedError",
  "MongoTopologyClosedError",
  "MongoClientClosedError",
  "MongoServerClosedError",
  "MongoOperationTimeoutError",
  "MongoExpiredSessionError",
]);

/** True when `e` says MongoDB cannot be reached (rather than that a request was wrong). */
export function isMongoUnavailable(e: unknown): boolean {
  return e instanceof Error && unavailable.has(e.name);
}

/** Runs a driver call, mapping connectivity failures to BackendUnavailableError("mongodb"). */
export async function mongoCall<R>(fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (e) {
    if (isMongoUnavailable(e)) throw new BackendUnavailableError("mongodb", e);
    throw e;
  }
}

/**
 * Resolves with `p`, or rejects with the signal's reason as soon as it aborts. For driver writes,
 * which take no signal: the caller is released at its deadline; the write's outcome is then
 * unknown to it, as with any timed-out write.
 */
export function abortable<R>(signal: AbortSignal | undefined, p: Promise<R>): Promise<R> {
  if (signal === undefined) return p;
  if (signal.aborted) {
    // The operation is on the wire already: its failure (an E11000, say) must not go unhandled,
    // which would end the process.
    p.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<R>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
