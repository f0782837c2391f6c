/**
 * The one polling helper of the tests: call a probe until its value is the one awaited, and fail
 * with a message naming what was awaited, the state last seen and the last error.
 */

/** How {@link waitFor} polls and what its failure says. */
export interface WaitForOptions<T> {
  /**
   * How long to poll before failing, in milliseconds.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * The pause between two calls of the probe, in milliseconds.
   * @default 100
   */
  readonly intervalMs?: number;
  /**
   * Whether a value of the probe is the one awaited.
   * @default the value is not undefined
   */
  readonly until?: (value: T) => boolean;
  /**
   * The state last seen, for the failure message ("last: ...").
   * @default the last value, as JSON
   */
  readonly detail?: () => string;
  /**
   * Appended to the failure message, e.g. the services' last log lines.
   * @default nothing
   */
  readonly logs?: () => string;
  /**
   * Whether an error thrown by the probe is retried (true) or fails the wait at once (false).
   * @default every error is retried
   */
  readonly retry?: (error: unknown) => boolean;
}

/**
 * Calls `probe` every `intervalMs` until its value is the one awaited (by default: not undefined)
 * and returns that value. Errors of the probe are retried unless `retry` says otherwise. After
 * `timeoutMs` throws `<what>: not within <timeoutMs> ms`, with the state last seen, the last
 * error and `logs()`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  opts?: WaitForOptions<T | undefined> & { readonly until?: undefined },
): Promise<T>;
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  opts: WaitForOptions<T> & { readonly until: (value: T) => boolean },
): Promise<T>;
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  opts: WaitForOptions<T> = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const accept = opts.until ?? ((value: T) => value !== undefined);
  const logs = () => (opts.logs === undefined ? "" : `\n${opts.logs()}`);
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = { value };
    } catch (error) {
      if (opts.retry !== undefined && !opts.retry(error)) {
        throw new Error(
          `${what}: ${error instanceof Error ? error.message : String(error)}${logs()}`,
          {
            cause: error,
          },
        );
      }
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = opts.detail?.() ?? (last === undefined ? "(no value)" : show(last.value));
      throw new Error(
        `${what}: not within ${timeoutMs} ms\nlast: ${detail}` +
          `${lastError !== undefined ? `\nlast error: ${String(lastError)}` : ""}${logs()}`,
        { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function show(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
    return text === undefined ? String(value) : text.slice(0, 2_000);
  } catch {
    return String(value);
  }
}
