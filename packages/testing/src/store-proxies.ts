/**
 * Test views of a store: the same object with one method counted, or with every method delayed
 * like a network round trip, for tests that watch how a service uses its stores.
 */

/** `target` with calls of `method` counted in `calls.n`. */
export function countingCalls<T extends object>(
  target: T,
  method: keyof T,
): { store: T; calls: { n: number } } {
  const calls = { n: 0 };
  const store = new Proxy(target, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver) as unknown;
      if (prop !== method || typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.n++;
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
  return { store, calls };
}

/**
 * `target` whose every method first waits one to three turns of the event loop, as a round trip
 * to a database does, so that concurrent read-modify-writes interleave as they do on MongoDB.
 */
export function withLatency<T extends object>(target: T): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return async (...args: unknown[]) => {
        for (let i = Math.floor(Math.random() * 3); i >= 0; i--) {
          await new Promise((r) => setImmediate(r));
        }
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}
