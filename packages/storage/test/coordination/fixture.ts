/**
 * What the coordination contract suites get from each adapter's test file, and the waiting helper
 * they share. Expiry is driven through `elapse`: the memory adapters advance their controllable
 * clock (no sleeping); Redis has no controllable clock, so its fixture really waits, with short
 * TTLs.
 */
import { waitFor } from "@lucid-rdp/testing";

/** One adapter under test, fresh (empty) for every test. */
export interface ContractFixture<T> {
  readonly impl: T;
  /** Releases what the fixture opened (not the shared server). */
  close(): Promise<void>;
  /** The adapter's clock, in epoch ms. */
  now(): number;
  /** Lets `ms` pass on the adapter's clock. */
  elapse(ms: number): Promise<void>;
}

/** Builds a fresh fixture; called before every test. */
export type MakeFixture<T> = () => Promise<ContractFixture<T>>;

/** A fixture clock that only moves when told to (memory adapters). */
export function manualClock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    elapse: async (ms: number) => {
      t += ms;
    },
  };
}

/** The real clock (Redis): `elapse` waits. */
export const realClock = {
  now: () => Date.now(),
  elapse: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
};

/**
 * Retries `probe` every `intervalMs` until it returns a value other than `undefined`/`false`, and
 * returns it; fails after `timeoutMs`. For conditions a backend reaches on its own (expiry,
 * reconnects), never for asserting how fast it happens.
 */
export function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 20 } = {},
): Promise<T> {
  return waitFor(what, probe, {
    until: (value) => value !== undefined && value !== false,
    timeoutMs,
    intervalMs,
  }) as Promise<T>;
}
