/** The Redis coordination backend: every port on one ioredis client (see createRedisClient). */
import type { Redis } from "ioredis";
import type { Coordination } from "./ports.js";
import { RedisCounters } from "./redis-counters.js";
import { RedisEventBus } from "./redis-event-bus.js";
import { RedisLeaseManager } from "./redis-lease-manager.js";
import { RedisPortLeases } from "./redis-port-leases.js";

export interface RedisCoordinationOptions {
  /** Prepended to every key, so that several deployments can share a Redis. @default "lucid:" */
  readonly keyPrefix?: string;
  /** The length each event family's stream is trimmed to. @default 10000 */
  readonly maxLen?: number;
  /** How the streams are trimmed (see RedisEventBusOptions). @default "approximate" */
  readonly trimming?: "approximate" | "exact";
}

/** Creates the Redis adapters of every coordination port. The caller owns (and quits) the client. */
export function createRedisCoordination(
  client: Redis,
  opts: RedisCoordinationOptions = {},
): Coordination {
  const { keyPrefix } = opts;
  return {
    leases: new RedisLeaseManager(client, { keyPrefix }),
    ports: new RedisPortLeases(client, { keyPrefix }),
    counters: new RedisCounters(client, { keyPrefix }),
    bus: new RedisEventBus(client, { keyPrefix, maxLen: opts.maxLen, trimming: opts.trimming }),
  };
}
