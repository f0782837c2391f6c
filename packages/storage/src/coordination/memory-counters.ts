/** Counters in process memory, with the semantics of the Redis adapter. */
import { assertName, assertNonNegative } from "./arguments.js";
import type { CallOptions, Counters, IncrementResult } from "./ports.js";

/** The memory adapter of `Counters`. */
export class MemoryCounters implements Counters {
  private readonly values = new Map<string, number>();

  async tryIncrement(key: string, limit: number, opts?: CallOptions): Promise<IncrementResult> {
    assertName("key", key);
    assertNonNegative("limit", limit);
    opts?.signal?.throwIfAborted();
    const value = this.values.get(key) ?? 0;
    if (value >= limit) return { ok: false, value };
    this.values.set(key, value + 1);
    return { ok: true, value: value + 1 };
  }

  async decrement(key: string, opts?: CallOptions): Promise<number> {
    assertName("key", key);
    opts?.signal?.throwIfAborted();
    const value = Math.max((this.values.get(key) ?? 0) - 1, 0);
    this.values.set(key, value);
    return value;
  }

  async get(key: string, opts?: CallOptions): Promise<number> {
    assertName("key", key);
    opts?.signal?.throwIfAborted();
    return this.values.get(key) ?? 0;
  }

  async set(key: string, value: number, opts?: CallOptions): Promise<void> {
    assertName("key", key);
    assertNonNegative("value", value);
    opts?.signal?.throwIfAborted();
    this.values.set(key, value);
  }
}
