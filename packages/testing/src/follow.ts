/**
 * Reads a server stream (a Watch RPC) in the background and keeps every message, so that a test
 * can make a change and then wait for the message it causes, whichever client library delivers
 * the stream. The read loop's promise is handled at once: a stream that fails is reported by the
 * waits, never as an unhandled rejection.
 *
 * ```ts
 * const watch = follow((signal) => client.watchSessions({ user }, { signal }));
 * try {
 *   await client.createSession({ ... });
 *   await watch.until("READY", (e) => e.session?.state === SessionState.READY);
 * } finally {
 *   await watch.stop();
 * }
 * ```
 */

export interface Followed<T> {
  /** Every message received so far, in order. */
  readonly messages: readonly T[];
  /**
   * The first message, received already or later, for which `accept` holds. Rejects, naming
   * `what` and listing what was received, when the stream ends or fails first or after
   * `timeoutMs`.
   */
  until(what: string, accept: (message: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Cancels the stream and waits until its read loop has ended. */
  stop(): Promise<void>;
}

export interface FollowOptions<T> {
  /**
   * How a message is shown in a failure.
   * @default JSON.stringify, bigints as strings
   */
  readonly show?: (message: T) => string;
  /**
   * The default `timeoutMs` of {@link Followed.until}.
   * @default 60000
   */
  readonly timeoutMs?: number;
}

/** Opens the stream with a signal that {@link Followed.stop} aborts, and starts reading it. */
export function follow<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  opts: FollowOptions<T> = {},
): Followed<T> {
  const show = opts.show ?? defaultShow;
  const abort = new AbortController();
  const messages: T[] = [];
  const waiters = new Set<() => void>();
  let ended: { error?: unknown } | undefined;
  const wake = () => {
    for (const w of [...waiters]) w();
  };

  const reading = (async () => {
    for await (const message of open(abort.signal)) {
      messages.push(message);
      wake();
    }
  })().then(
    () => {
      ended = {};
      wake();
    },
    (error: unknown) => {
      ended = { error };
      wake();
    },
  );

  return {
    messages,
    until(what, accept, timeoutMs = opts.timeoutMs ?? 60_000) {
      return new Promise<T>((resolve, reject) => {
        let seen = 0;
        const fail = (why: string) => {
          cleanup();
          const got = messages.map((m) => `  ${show(m)}`).join("\n");
          reject(new Error(`${what}: ${why}; received ${messages.length}:\n${got}`));
        };
        const check = () => {
          for (; seen < messages.length; seen++) {
            const m = messages[seen] as T;
            if (accept(m)) {
              cleanup();
              resolve(m);
              return;
            }
          }
          if (ended !== undefined) {
            fail(
              ended.error === undefined
                ? "the stream ended first"
                : `the stream failed first: ${String(ended.error)}`,
            );
          }
        };
        const timer = setTimeout(() => fail(`not within ${timeoutMs} ms`), timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      abort.abort();
      await reading;
    },
  };
}

function defaultShow(message: unknown): string {
  return JSON.stringify(message, (_, v) => (typeof v === "bigint" ? v.toString() : v));
}
