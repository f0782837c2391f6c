/** waitFor with a mesh's defaults: a 200 ms poll and the services' last log lines on failure. */
import type { Mesh } from "./mesh.js";
import { waitFor } from "./wait-for.js";

/** How {@link meshWaitFor} polls and what its failure says. */
export interface MeshWaitForOptions {
  /**
   * How long to poll before failing, in milliseconds.
   * @default 60000
   */
  readonly timeoutMs?: number;
  /**
   * The state last seen, for the failure message.
   * @default nothing
   */
  readonly detail?: () => string;
  /**
   * Whether an error thrown by the probe is retried (true) or fails the wait at once (false).
   * @default every error is retried
   */
  readonly retry?: (error: unknown) => boolean;
}

/**
 * waitFor every 200 ms until `probe` returns a value, failing after `timeoutMs` with `what`, the
 * last `detail()` and the mesh services' last log lines.
 */
export function meshWaitFor<T>(
  mesh: Pick<Mesh, "logs">,
  what: string,
  probe: () => Promise<T | undefined>,
  opts: MeshWaitForOptions = {},
): Promise<T> {
  return waitFor(what, probe, {
    timeoutMs: opts.timeoutMs ?? 60_000,
    intervalMs: 200,
    detail: opts.detail ?? (() => ""),
    logs: () => mesh.logs(),
    ...(opts.retry === undefined ? {} : { retry: opts.retry }),
  });
}
