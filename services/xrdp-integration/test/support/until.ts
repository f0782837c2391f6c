/** The xrdp-integration process tests' polling shorthand, built on waitFor. */
import { waitFor } from "@lucid-rdp/testing";

/**
 * Calls `fn` every 100 ms until `ok` holds for its value and returns that value; fails after `ms`
 * naming the predicate and the last value (waitFor of @lucid-rdp/testing).
 */
export function until<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  return waitFor(`a value for which ${ok.toString()} holds`, fn, { until: ok, timeoutMs: ms });
}
