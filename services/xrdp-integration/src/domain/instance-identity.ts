/**
 * An instance's identity follows from its StartInstance request id: the id is a UUID derived from
 * the request id, so the record store's unique id makes "one request id, at most one instance"
 * hold across crashes, retries and concurrent duplicates, with no second record to keep in step.
 */
import { createHash } from "node:crypto";

/** Thrown when a request id is sent again with other parameters than its first call's. */
export class RequestParamsChangedError extends Error {
  override readonly name = "RequestParamsChangedError";
  constructor(
    readonly requestId: string,
    readonly field: string,
  ) {
    super(`request_id ${requestId} was already used for a StartInstance with another ${field}`);
  }
}

/** The instance id of a request id: a lowercase UUID (version 8, name-based on SHA-256). */
export function instanceIdFor(requestId: string): string {
  const h = createHash("sha256").update(`lucid-rdp/xrdp-instance/${requestId}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x80; // version 8
  h[8] = ((h[8] as number) & 0x3f) | 0x80; // RFC 9562 variant
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** What a StartInstance asked for, as stored in its instance's record. */
export interface StartParams {
  readonly serverId: string;
  readonly port: number;
  /** The port asked for, when it differs from `port` (0: the node chose). */
  readonly requestedPort?: number;
  readonly owner?: string;
  readonly settings: object;
}

/**
 * Checks that a retry asks for what its first call asked for.
 * @throws RequestParamsChangedError naming the first field that differs
 */
export function checkSameRequest(requestId: string, first: StartParams, retry: StartParams): void {
  if (first.serverId !== retry.serverId)
    throw new RequestParamsChangedError(requestId, "server_id");
  if ((first.requestedPort ?? first.port) !== (retry.requestedPort ?? retry.port)) {
    throw new RequestParamsChangedError(requestId, "port");
  }
  if ((first.owner ?? "") !== (retry.owner ?? "")) {
    throw new RequestParamsChangedError(requestId, "owner");
  }
  if (canonical(first.settings) !== canonical(retry.settings)) {
    throw new RequestParamsChangedError(requestId, "settings");
  }
}

/** JSON with sorted keys and without unset fields (a stored record drops them). */
export function canonical(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x !== null && typeof x === "object" && !(x instanceof Date)) {
      return Object.fromEntries(
        Object.keys(x)
          .filter((k) => (x as Record<string, unknown>)[k] !== undefined)
          .sort()
          .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
      );
    }
    return x;
  };
  return JSON.stringify(sort(v));
}
