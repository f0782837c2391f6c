import { createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isInstanceKey } from "../domain/tls-material.js";
import { generateInstanceKey } from "../host/tls-material-files.js";
import { TlsKeyPool, type TlsKeyPoolOptions } from "./tls-key-pool.js";

/** A generator whose every call waits until the test settles it. */
function controlledGenerator() {
  const calls: { resolve: (k: KeyObject) => void; reject: (e: Error) => void }[] = [];
  const generate = () =>
    new Promise<KeyObject>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { calls, generate };
}

/** A distinct stand-in key (the pool never looks inside its keys). */
const fakeKey = () => createSecretKey(randomBytes(16));

/** Lets the pool's promise callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

/** The retryInMs of the pool's latest warning. */
function lastRetryInMs(warn: ReturnType<typeof vi.fn>): number {
  const fields = warn.mock.calls.at(-1)?.[0] as { retryInMs?: number } | undefined;
  return fields?.retryInMs ?? Number.NaN;
}

function recordingLogger() {
  const warn = vi.fn();
  const info = vi.fn();
  return { logger: { warn, info } as unknown as TlsKeyPoolOptions["logger"], warn, info };
}

const pools: TlsKeyPool[] = [];
function makePool(opts: Partial<TlsKeyPoolOptions> & { size: number }) {
  const pool = new TlsKeyPool({ logger: recordingLogger().logger, ...opts });
  pools.push(pool);
  return pool;
}

afterEach(() => {
  for (const p of pools.splice(0)) p.close();
  vi.useRealTimers();
});

describe("TlsKeyPool", () => {
  describe("start()", () => {
    it("fills the pool to its size, one key at a time", async () => {
      const gen = controlledGenerator();
      const pool = makePool({ size: 3, generate: gen.generate });
      expect(gen.calls).toHaveLength(0); // nothing before start()
      pool.start();
      pool.start(); // idempotent
      for (let i = 1; i <= 3; i++) {
        expect(gen.calls).toHaveLength(i);
        gen.calls[i - 1]?.resolve(fakeKey());
        await settle();
        expect(pool.available).toBe(i);
      }
      expect(gen.calls).toHaveLength(3); // full: no further generation
    });

    it("with real keys, holds distinct RSA-3072 private keys", async () => {
      const made: Promise<KeyObject>[] = [];
      const pool = makePool({
        size: 2,
        generate: () => {
          const p = generateInstanceKey();
          made.push(p);
          return p;
        },
      });
      pool.start();
      await made[0];
      await settle();
      await made[1];
      await settle();
      const a = pool.take();
      const b = pool.take();
      expect(a && isInstanceKey(a)).toBe(true);
      expect(b && isInstanceKey(b)).toBe(true);
      expect(a?.equals(b as KeyObject)).toBe(false);
    });
  });

  describe("take()", () => {
    it("hands each key out once and starts a refill after each take", async () => {
      const gen = controlledGenerator();
      const pool = makePool({ size: 2, generate: gen.generate });
      pool.start();
      const made = [fakeKey(), fakeKey(), fakeKey(), fakeKey()];
      gen.calls[0]?.resolve(made[0] as KeyObject);
      await settle();
      gen.calls[1]?.resolve(made[1] as KeyObject);
      await settle();
      expect(pool.available).toBe(2);

      const taken = [pool.take()];
      expect(gen.calls).toHaveLength(3); // the refill began with the take
      taken.push(pool.take());
      expect(pool.available).toBe(0);
      expect(gen.calls).toHaveLength(3); // still one generation at a time
      gen.calls[2]?.resolve(made[2] as KeyObject);
      await settle();
      expect(gen.calls).toHaveLength(4);
      taken.push(pool.take());
      gen.calls[3]?.resolve(made[3] as KeyObject);
      await settle();
      taken.push(pool.take());

      expect(taken).toEqual(made);
      expect(new Set(taken).size).toBe(4); // never the same key twice
    });

    it("returns undefined while the pool is empty, so the instance generates its own", async () => {
      const gen = controlledGenerator();
      const { logger, info } = recordingLogger();
      const pool = new TlsKeyPool({ size: 2, generate: gen.generate, logger });
      pools.push(pool);
      expect(pool.take()).toBeUndefined(); // not started
      pool.start();
      expect(pool.take()).toBeUndefined(); // the first key is still being generated
      expect(info).toHaveBeenCalledTimes(1);
      expect(gen.calls).toHaveLength(1); // the take did not start a second generation
      gen.calls[0]?.resolve(fakeKey());
      await settle();
      expect(pool.take()).toBeDefined();
    });
  });

  describe("size 0", () => {
    it("never generates and never has a key", async () => {
      const gen = controlledGenerator();
      const { logger, info } = recordingLogger();
      const pool = new TlsKeyPool({ size: 0, generate: gen.generate, logger });
      pools.push(pool);
      pool.start();
      expect(pool.take()).toBeUndefined();
      await settle();
      expect(gen.calls).toHaveLength(0);
      expect(pool.available).toBe(0);
      expect(info).not.toHaveBeenCalled();
    });

    it("rejects a negative or fractional size", () => {
      for (const size of [-1, 1.5, Number.NaN]) {
        expect(() => new TlsKeyPool({ size, logger: recordingLogger().logger })).toThrow(
          RangeError,
        );
      }
    });
  });

  describe("generation failures", () => {
    it("are logged and retried with exponential backoff, reset by a success", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      const gen = controlledGenerator();
      const { logger, warn } = recordingLogger();
      const pool = new TlsKeyPool({
        size: 1,
        generate: gen.generate,
        logger,
        retryMs: 100,
        maxRetryMs: 300,
      });
      pools.push(pool);
      pool.start();
      const delays: number[] = [];
      for (let i = 0; i < 4; i++) {
        gen.calls[i]?.reject(new Error("no entropy"));
        await settle();
        const retryInMs = lastRetryInMs(warn);
        delays.push(retryInMs);
        vi.advanceTimersByTime(retryInMs - 1);
        expect(gen.calls).toHaveLength(i + 1); // not before its time
        pool.take(); // nor on a take while the retry waits
        expect(gen.calls).toHaveLength(i + 1);
        vi.advanceTimersByTime(1);
        expect(gen.calls).toHaveLength(i + 2);
      }
      expect(delays).toEqual([100, 200, 300, 300]);
      gen.calls[4]?.resolve(fakeKey());
      await settle();
      expect(pool.available).toBe(1);
      pool.take();
      gen.calls[5]?.reject(new Error("again"));
      await settle();
      expect(lastRetryInMs(warn)).toBe(100);
    });

    it("also covers a generator that throws instead of rejecting", async () => {
      const { logger, warn } = recordingLogger();
      const pool = new TlsKeyPool({
        size: 1,
        logger,
        generate: () => {
          throw new Error("sync failure");
        },
      });
      pools.push(pool);
      pool.start();
      await settle();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(pool.available).toBe(0);
    });
  });

  describe("close()", () => {
    it("returns at once during a generation, drops every key and stops refilling", async () => {
      const gen = controlledGenerator();
      const pool = makePool({ size: 2, generate: gen.generate });
      pool.start();
      gen.calls[0]?.resolve(fakeKey());
      await settle();
      expect(pool.available).toBe(1);
      expect(gen.calls).toHaveLength(2); // the second key is under way

      pool.close(); // synchronous: nothing to wait for
      expect(pool.available).toBe(0);
      gen.calls[1]?.resolve(fakeKey()); // the generation under way ends after close
      await settle();
      expect(pool.available).toBe(0);
      expect(pool.take()).toBeUndefined();
      pool.start();
      expect(gen.calls).toHaveLength(2);
    });

    it("cancels a pending retry", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      const gen = controlledGenerator();
      const pool = makePool({ size: 1, generate: gen.generate, retryMs: 100 });
      pool.start();
      gen.calls[0]?.reject(new Error("no entropy"));
      await settle();
      pool.close();
      vi.advanceTimersByTime(10_000);
      expect(gen.calls).toHaveLength(1);
    });
  });
});
