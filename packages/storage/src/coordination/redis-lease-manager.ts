/**
 * Leases on Redis. The lease is a key holding a random token with a PX expiry; the fence is a
 * per-name counter, incremented by every acquisition in the same script as the SET NX, so fences
 * are strictly increasing per name and nothing can interleave between the two. Renew, release and
 * the currency check compare the token in Lua before acting.
 *
 * Keys (the name in a hash tag, so both keys of a lease share a cluster slot):
 * `<prefix>lease:{<name>}` (token, expiring) and `<prefix>lease:{<name>}:fence` (counter, kept).
 */
import type { Redis } from "ioredis";
import { assertName, assertTtl } from "./arguments.js";
import { LeaseLostError } from "./errors.js";
import { newLeaseToken } from "./lease-token.js";
import type { CallOptions, Lease, LeaseManager } from "./ports.js";
import { defineScript, type RedisScript, runRedis } from "./redis-client.js";

/** KEYS: lease, fence. ARGV: token, ttlMs. Returns the new fence, or nil when the lease is held. */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false`;

/** KEYS: lease. ARGV: token, ttlMs. 1 when the token still held the lease and it was extended. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** KEYS: lease. ARGV: token. 1 when the token still held the lease and it was deleted. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** KEYS: lease, fence. ARGV: token, fence. 1 when the token holds and the fence is the latest. */
const IS_CURRENT = `
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  return 1
end
return 0`;

export interface RedisLeaseManagerOptions {
  /** Prepended to every key. @default "lucid:" */
  readonly keyPrefix?: string;
}

/** The Redis adapter of `LeaseManager`. */
export class RedisLeaseManager implements LeaseManager {
  private readonly prefix: string;
  private readonly acquireScript: RedisScript;
  private readonly renewScript: RedisScript;
  private readonly releaseScript: RedisScript;
  private readonly isCurrentScript: RedisScript;

  constructor(client: Redis, opts: RedisLeaseManagerOptions = {}) {
    this.prefix = opts.keyPrefix ?? "lucid:";
    this.acquireScript = defineScript(client, "lucidLeaseAcquire", 2, ACQUIRE);
    this.renewScript = defineScript(client, "lucidLeaseRenew", 1, RENEW);
    this.releaseScript = defineScript(client, "lucidLeaseRelease", 1, RELEASE);
    this.isCurrentScript = defineScript(client, "lucidLeaseIsCurrent", 2, IS_CURRENT);
  }

  async acquire(name: string, ttlMs: number, opts?: CallOptions): Promise<Lease | undefined> {
    assertName("name", name);
    assertTtl(ttlMs);
    const token = newLeaseToken();
    // Taken before the command is sent: the server's expiry is no earlier than this.
    const expiresAt = new Date(Date.now() + ttlMs);
    const fence = await runRedis(opts?.signal, () =>
      this.acquireScript(this.keys(name), [token, ttlMs]),
    );
    if (fence === null || fence === undefined) return undefined;
    return { name, token, fence: Number(fence), expiresAt };
  }

  async renew(lease: Lease, ttlMs: number, opts?: CallOptions): Promise<boolean> {
    assertTtl(ttlMs);
    const [key] = this.keys(lease.name);
    const ok = await runRedis(opts?.signal, () => this.renewScript([key], [lease.token, ttlMs]));
    return ok === 1;
  }

  async release(lease: Lease, opts?: CallOptions): Promise<boolean> {
    const [key] = this.keys(lease.name);
    const ok = await runRedis(opts?.signal, () => this.releaseScript([key], [lease.token]));
    return ok === 1;
  }

  async isCurrent(lease: Lease, opts?: CallOptions): Promise<boolean> {
    const ok = await runRedis(opts?.signal, () =>
      this.isCurrentScript(this.keys(lease.name), [lease.token, String(lease.fence)]),
    );
    return ok === 1;
  }

  async assertCurrent(lease: Lease, opts?: CallOptions): Promise<void> {
    if (!(await this.isCurrent(lease, opts))) throw new LeaseLostError(lease.name, lease.fence);
  }

  private keys(name: string): [lease: string, fence: string] {
    const lease = `${this.prefix}lease:{${name}}`;
    return [lease, `${lease}:fence`];
  }
}
