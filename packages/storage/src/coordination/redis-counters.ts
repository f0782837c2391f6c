/**
 * Counters on Redis: one string key per counter, `<prefix>counter:<key>`. The bounded increment
 * and the floored decrement are Lua scripts, so concurrent callers never overshoot the limit or
 * go below zero.
 */
import type { Redis } from "ioredis";
import { assertName, assertNonNegative } from "./arguments.js";
import type { CallOptions, Counters, IncrementResult } from "./ports.js";
import { defineScript, type RedisScript, runRedis } from "./redis-client.js";

/** KEYS: counter. ARGV: limit. {1, new value} when below the limit, else {0, value}. */
const TRY_INCREMENT = `
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value < tonumber(ARGV[1]) then
  return {1, redis.call('INCR', KEYS[1])}
end
return {0, value}`;

/** KEYS: counter. The value after decrementing, never below 0. */
const DECREMENT = `
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0`;

export interface RedisCountersOptions {
  /** Prepended to every key. @default "lucid:" */
  readonly keyPrefix?: string;
}

/** The Redis adapter of `Counters`. */
export class RedisCounters implements Counters {
  private readonly prefix: string;
  private readonly tryIncrementScript: RedisScript;
  private readonly decrementScript: RedisScript;

  constructor(
    private readonly client: Redis,
    opts: RedisCountersOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? "lucid:";
    this.tryIncrementScript = defineScript(client, "lucidCounterTryIncrement", 1, TRY_INCREMENT);
    this.decrementScript = defineScript(client, "lucidCounterDecrement", 1, DECREMENT);
  }

  async tryIncrement(key: string, limit: number, opts?: CallOptions): Promise<IncrementResult> {
    assertName("key", key);
    assertNonNegative("limit", limit);
    const reply = await runRedis(opts?.signal, () =>
      this.tryIncrementScript([this.key(key)], [limit]),
    );
    const [ok, value] = reply as [number, number];
    return { ok: ok === 1, value: Number(value) };
  }

  async decrement(key: string, opts?: CallOptions): Promise<number> {
    assertName("key", key);
    return Number(await runRedis(opts?.signal, () => this.decrementScript([this.key(key)], [])));
  }

  async get(key: string, opts?: CallOptions): Promise<number> {
    assertName("key", key);
    const value = await runRedis(opts?.signal, () => this.client.get(this.key(key)));
    return value === null ? 0 : Number(value);
  }

  async set(key: string, value: number, opts?: CallOptions): Promise<void> {
    assertName("key", key);
    assertNonNegative("value", value);
    await runRedis(opts?.signal, () => this.client.set(this.key(key), String(value)));
  }

  private key(key: string): string {
    return `${this.prefix}counter:${key}`;
  }
}
