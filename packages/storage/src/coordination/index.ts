/**
 * Coordination between replicas: leases with fencing and leader election, per-node port leases,
 * cluster-wide counters and a resumable event bus, on Redis or (embedded) in memory.
 */
export {
  CursorOutOfRangeError,
  InvalidCursorError,
  InvalidEventTypeError,
  LeaseLostError,
} from "./errors.js";
export { compareEventIds, parseEventId, ZERO_EVENT_ID } from "./event-ids.js";
export {
  type ElectorTimers,
  LeaderElector,
  type LeaderElectorOptions,
  type RunAsLeaderOptions,
} from "./leader-elector.js";
export {
  type LeaderLogger,
  type LeaderLoop,
  type RunLeaderLoopsOptions,
  retryUntilDone,
  runLeaderLoops,
} from "./leader-loops.js";
export { createMemoryCoordination, type MemoryCoordinationOptions } from "./memory-coordination.js";
export { MemoryCounters } from "./memory-counters.js";
export { MemoryEventBus, type MemoryEventBusOptions } from "./memory-event-bus.js";
export { MemoryLeaseManager, type MemoryLeaseManagerOptions } from "./memory-lease-manager.js";
export { MemoryPortLeases } from "./memory-port-leases.js";
export {
  type AllocateOptions,
  type BusEvent,
  type CallOptions,
  type Coordination,
  type Counters,
  EVENT_FAMILIES,
  type EventBus,
  type EventFamily,
  type IncrementResult,
  type Lease,
  type LeaseManager,
  type NewBusEvent,
  type PortLeases,
  type PortRange,
  type ReadOptions,
  type SubscribeOptions,
} from "./ports.js";
export {
  createRedisClient,
  isRedisConnectionError,
  type RedisCheck,
  type RedisClientLogger,
  redisCheck,
  runRedis,
  wrapRedisErrors,
} from "./redis-client.js";
export { createRedisCoordination, type RedisCoordinationOptions } from "./redis-coordination.js";
export { RedisCounters, type RedisCountersOptions } from "./redis-counters.js";
export { RedisEventBus, type RedisEventBusOptions } from "./redis-event-bus.js";
export { RedisLeaseManager, type RedisLeaseManagerOptions } from "./redis-lease-manager.js";
export { RedisPortLeases, type RedisPortLeasesOptions } from "./redis-port-leases.js";
