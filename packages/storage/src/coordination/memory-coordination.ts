/** The embedded coordination backend: every port in process memory (state is lost on exit). */
import { MemoryCounters } from "./memory-counters.js";
import { MemoryEventBus } from "./memory-event-bus.js";
import { MemoryLeaseManager } from "./memory-lease-manager.js";
import { MemoryPortLeases } from "./memory-port-leases.js";
import type { Coordination } from "./ports.js";

export interface MemoryCoordinationOptions {
  /** The clock of lease expiry and event ids, in epoch ms. @default Date.now */
  readonly now?: () => number;
  /** The length each event family's stream is trimmed to. @default 10000 */
  readonly maxLen?: number;
}

/** Creates the memory adapters of every coordination port. */
export function createMemoryCoordination(opts: MemoryCoordinationOptions = {}): Coordination {
  return {
    leases: new MemoryLeaseManager({ now: opts.now }),
    ports: new MemoryPortLeases(),
    counters: new MemoryCounters(),
    bus: new MemoryEventBus({ now: opts.now, maxLen: opts.maxLen }),
  };
}
