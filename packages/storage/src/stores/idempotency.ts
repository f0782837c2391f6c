/**
 * AIP-155 request ids over the idempotency store: the first call with a request id runs the
 * create and records the id of what it created; a retry with the same id and the same parameters
 * gets that id back without creating anything; the same id with other parameters is refused.
 * A create that fails forgets the id, so that a retry runs it again. Records expire after a TTL
 * (swept by sweepExpired: no TTL indexes on FerretDB).
 */
import { createHash } from "node:crypto";
import type { CallOptions } from "../documents/collection.js";
import { AlreadyExistsError } from "../errors.js";
import type { IdempotencyStore } from "./stores.js";

/** Thrown when a request id is reused with different parameters. */
export class RequestIdReusedError extends Error {
  override readonly name = "RequestIdReusedError";
  constructor(
    readonly scope: string,
    readonly requestId: string,
  ) {
    super(`request_id ${requestId} was already used for a different ${scope} request`);
  }
}

/** Thrown when the first call with a request id is still running, or died without finishing. */
export class RequestInProgressError extends Error {
  override readonly name = "RequestInProgressError";
  constructor(
    readonly scope: string,
    readonly requestId: string,
  ) {
    super(`the first ${scope} request with request_id ${requestId} has not finished yet`);
  }
}

/** A stable digest of request parameters (key order does not matter). */
export function paramsHash(params: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(canonical);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `sha256:${createHash("sha256")
    .update(JSON.stringify(canonical(params)))
    .digest("hex")}`;
}

export interface IdempotentOptions extends CallOptions {
  readonly scope: string;
  readonly requestId: string;
  /** The request's parameters, without the request id. */
  readonly params: unknown;
  /** How long the id is remembered. */
  readonly ttlMs: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** A PENDING record older than this is taken over (its first caller died). @default 60000 */
  readonly staleAfterMs?: number;
  /**
   * How long a concurrent duplicate waits for the first call to finish, then answers with its
   * result (or RequestInProgressError once this passes). @default 30000
   */
  readonly waitForFirstMs?: number;
}

/**
 * Runs `create` once per request id. Returns the id of the created resource and whether this call
 * created it (false: a retry, answered from the record).
 * @throws RequestIdReusedError, RequestInProgressError
 */
export async function runIdempotent(
  store: IdempotencyStore,
  opts: IdempotentOptions,
  create: () => Promise<string>,
): Promise<{ resultId: string; created: boolean }> {
  const now = opts.now ?? (() => new Date());
  const id = `${opts.scope}:${opts.requestId}`;
  const hash = paramsHash(opts.params);
  const call = { signal: opts.signal };
  const waitUntil = Date.now() + (opts.waitForFirstMs ?? 30_000);
  let version = 1;
  for (;;) {
    try {
      await store.insert(
        {
          id,
          scope: opts.scope,
          requestId: opts.requestId,
          paramsHash: hash,
          state: "PENDING",
          expireTime: new Date(now().getTime() + opts.ttlMs),
        },
        call,
      );
      break;
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
    const first = await store.find(id, call);
    if (first === undefined) continue; // the first call failed and forgot the id: try again
    if (first.paramsHash !== hash) throw new RequestIdReusedError(opts.scope, opts.requestId);
    if (first.state === "DONE" && first.resultId !== undefined) {
      return { resultId: first.resultId, created: false };
    }
    const age = now().getTime() - first.updateTime.getTime();
    if (age >= (opts.staleAfterMs ?? 60_000)) {
      // Take the stale record over; a concurrent taker loses with ConflictError.
      version = (await store.update(id, first.version, { state: "PENDING" }, call)).version;
      break;
    }
    // The first call is still running: wait for its result, as a retry should get it.
    if (Date.now() >= waitUntil) throw new RequestInProgressError(opts.scope, opts.requestId);
    opts.signal?.throwIfAborted();
    await new Promise((r) => setTimeout(r, 100));
  }
  let resultId: string;
  try {
    resultId = await create();
  } catch (e) {
    // Nothing was created: forget the id, so that a retry runs the create again.
    await store.delete(id, version).catch(() => undefined);
    throw e;
  }
  // Recorded even if the caller gave up meanwhile: the resource exists, and a retry must find it.
  await store.update(id, version, { state: "DONE", resultId });
  return { resultId, created: true };
}
