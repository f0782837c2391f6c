/**
 * Port leases on Redis: one hash per node, field = port, value = owner id. Claim is HSETNX (in a
 * script that also accepts a repeated claim by the same owner); allocate scans the range and
 * claims in one script; release and releaseAllOf compare the owner in Lua before deleting. Key:
 * `<prefix>ports:{<nodeId>}`.
 */
import type { Redis } from "ioredis";
import { allocateArguments, assertName, assertPort } from "./arguments.js";
import type { AllocateOptions, CallOptions, PortLeases, PortRange } from "./ports.js";
import { defineScript, type RedisScript, runRedis } from "./redis-client.js";

/** KEYS: node hash. ARGV: port, owner. 1 when the owner holds the port afterwards. */
const CLAIM = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return 1 end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 1 end
return 0`;

/**
 * KEYS: node hash. ARGV: range start, range end, offset, owner, skipped ports... The first port
 * from start + offset (wrapping) that is not skipped and is free or already the owner's, claimed
 * for the owner; nil when there is none. What CLAIM does port by port, in one round trip, so that
 * no other allocator can take a port between reading it free and claiming it.
 *
 * One HGET per port passed over: a scan passes over at most the node's claims plus the skipped
 * ports before it finds a free one, so a call costs what an HGETALL of the node would, and far
 * less while the pool has room.
 */
const ALLOCATE = `
local first, last, offset, owner = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local skip = {}
for i = 5, #ARGV do skip[tonumber(ARGV[i])] = true end
local size = last - first + 1
for i = 0, size - 1 do
  local port = first + (offset + i) % size
  if not skip[port] then
    local held = redis.call('HGET', KEYS[1], port)
    if not held then
      redis.call('HSET', KEYS[1], port, owner)
      return port
    end
    if held == owner then return port end
  end
end
return false`;

/** KEYS: node hash. ARGV: port, owner. 1 when the owner held the port and it was freed. */
const RELEASE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

/** KEYS: node hash. ARGV: owner. Frees every port of the owner; the count. */
const RELEASE_ALL_OF = `
local all = redis.call('HGETALL', KEYS[1])
local freed = 0
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then
    freed = freed + redis.call('HDEL', KEYS[1], all[i])
  end
end
return freed`;

export interface RedisPortLeasesOptions {
  /** Prepended to every key. @default "lucid:" */
  readonly keyPrefix?: string;
}

/** The Redis adapter of `PortLeases`. */
export class RedisPortLeases implements PortLeases {
  private readonly prefix: string;
  private readonly claimScript: RedisScript;
  private readonly allocateScript: RedisScript;
  private readonly releaseScript: RedisScript;
  private readonly releaseAllOfScript: RedisScript;

  constructor(
    private readonly client: Redis,
    opts: RedisPortLeasesOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? "lucid:";
    this.claimScript = defineScript(client, "lucidPortClaim", 1, CLAIM);
    this.allocateScript = defineScript(client, "lucidPortAllocate", 1, ALLOCATE);
    this.releaseScript = defineScript(client, "lucidPortRelease", 1, RELEASE);
    this.releaseAllOfScript = defineScript(client, "lucidPortReleaseAllOf", 1, RELEASE_ALL_OF);
  }

  async claim(nodeId: string, port: number, ownerId: string, opts?: CallOptions): Promise<boolean> {
    assertName("nodeId", nodeId);
    assertPort(port);
    assertName("ownerId", ownerId);
    const ok = await runRedis(opts?.signal, () =>
      this.claimScript([this.key(nodeId)], [port, ownerId]),
    );
    return ok === 1;
  }

  async allocate(
    nodeId: string,
    range: PortRange,
    ownerId: string,
    opts?: AllocateOptions,
  ): Promise<number | undefined> {
    const { start, end, offset, skip } = allocateArguments(nodeId, range, ownerId, opts);
    const port = await runRedis(opts?.signal, () =>
      this.allocateScript([this.key(nodeId)], [start, end, offset, ownerId, ...skip]),
    );
    return port === null ? undefined : Number(port);
  }

  async release(
    nodeId: string,
    port: number,
    ownerId: string,
    opts?: CallOptions,
  ): Promise<boolean> {
    assertPort(port);
    const ok = await runRedis(opts?.signal, () =>
      this.releaseScript([this.key(nodeId)], [port, ownerId]),
    );
    return ok === 1;
  }

  async owner(nodeId: string, port: number, opts?: CallOptions): Promise<string | undefined> {
    assertPort(port);
    const owner = await runRedis(opts?.signal, () =>
      this.client.hget(this.key(nodeId), String(port)),
    );
    return owner ?? undefined;
  }

  async list(nodeId: string, opts?: CallOptions): Promise<Map<number, string>> {
    const all = await runRedis(opts?.signal, () => this.client.hgetall(this.key(nodeId)));
    const ports = Object.entries(all)
      .map(([port, owner]) => [Number(port), owner] as const)
      .sort(([a], [b]) => a - b);
    return new Map(ports);
  }

  async releaseAllOf(ownerId: string, nodeId: string, opts?: CallOptions): Promise<number> {
    const freed = await runRedis(opts?.signal, () =>
      this.releaseAllOfScript([this.key(nodeId)], [ownerId]),
    );
    return Number(freed);
  }

  private key(nodeId: string): string {
    return `${this.prefix}ports:{${nodeId}}`;
  }
}
