/**
 * Clients for peer services of the mesh, over gRPC (HTTP/2). Every call has a deadline; only
 * idempotent methods (NO_SIDE_EFFECTS or IDEMPOTENT in the contract) are retried, only on
 * UNAVAILABLE, with jittered exponential backoff inside the call's deadline. The clients are
 * `createNodeClient`'s, whose `peerLossInterceptor` makes a stream refused by a peer shutting down
 * and a connection lost to a crashed peer UNAVAILABLE (never a call the caller cancelled), so those
 * are retried too. Their reads are marked routine, logged at debug by the peer when they succeed.
 */
import type { DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createNodeClient, didNotRun } from "@lucid-rdp/gen/node";
import { routineHeader } from "./observe.js";

export interface MeshClientOptions {
  /** The peer's base URL, e.g. http://127.0.0.1:8081. */
  readonly baseUrl: string;
  /** Deadline of each call unless the caller passes its own timeoutMs. @default 5000 */
  readonly deadlineMs?: number;
  /** Attempts for an idempotent call, the first included. @default 3 */
  readonly maxAttempts?: number;
  /** First backoff; doubled per attempt, with full jitter. @default 100 */
  readonly backoffMs?: number;
  /** A bearer token (or a function returning one) for each call, when the peer requires auth. */
  readonly token?: string | (() => string | Promise<string>);
}

/** True when the method may be retried safely. */
export function isIdempotent(method: { idempotency: Idempotency }): boolean {
  return (
    method.idempotency === Idempotency.NO_SIDE_EFFECTS ||
    method.idempotency === Idempotency.IDEMPOTENT
  );
}

/**
 * Retries unary calls on UNAVAILABLE: idempotent ones always, others only when the peer never ran
 * them (didNotRun: refused after GOAWAY, or sent on a connection the peer was closing).
 */
export function retryInterceptor(opts: { maxAttempts: number; backoffMs: number }): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return next(req);
    const idempotent = isIdempotent(req.method);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (e) {
        const err = ConnectError.from(e);
        if (
          err.code !== Code.Unavailable ||
          (!idempotent && !didNotRun(e)) ||
          attempt >= opts.maxAttempts ||
          req.signal.aborted
        ) {
          throw e;
        }
        const delay = Math.random() * opts.backoffMs * 2 ** (attempt - 1);
        await new Promise<void>((resolve) => {
          const onAbort = () => {
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(() => {
            req.signal.removeEventListener("abort", onAbort);
            resolve();
          }, delay);
          req.signal.addEventListener("abort", onAbort, { once: true });
        });
        if (req.signal.aborted) throw e;
      }
    }
  };
}

/**
 * Marks the reads (NO_SIDE_EFFECTS) a peer makes as routine: the peer logs them at debug when they
 * succeed (see routineHeader), since the mesh polls its peers all the time.
 */
export function routineReadsInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (req.method.idempotency === Idempotency.NO_SIDE_EFFECTS && !req.header.has(routineHeader)) {
      req.header.set(routineHeader, "read");
    }
    return next(req);
  };
}

/** Creates a gRPC client for a peer service. */
export function createMeshClient<S extends DescService>(
  service: S,
  opts: MeshClientOptions,
): Client<S> {
  return createNodeClient(service, {
    baseUrl: opts.baseUrl,
    protocol: "grpc",
    timeoutMs: opts.deadlineMs ?? 5000,
    token: opts.token,
    interceptors: [
      routineReadsInterceptor(),
      retryInterceptor({ maxAttempts: opts.maxAttempts ?? 3, backoffMs: opts.backoffMs ?? 100 }),
    ],
  });
}
