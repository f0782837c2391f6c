/**
 * The coordination contract suites against the memory adapters. Their clock is a manual one, so
 * lease expiry is reached by advancing it, never by sleeping.
 */
import {
  MemoryCounters,
  MemoryEventBus,
  MemoryLeaseManager,
  MemoryPortLeases,
} from "../../src/coordination/index.js";
import { describeEventBusContract, EVENT_BUS_CONTRACT_MAX_LEN } from "./bus.contract.js";
import { describeCountersContract } from "./counters.contract.js";
import { manualClock } from "./fixture.js";
import { describeLeaseManagerContract } from "./leases.contract.js";
import { describePortLeasesContract } from "./ports.contract.js";

/** A fixture around a memory adapter built on a fresh manual clock. */
function memoryFixture<T>(build: (now: () => number) => T) {
  return async () => {
    const clock = manualClock();
    return { impl: build(clock.now), close: async () => {}, ...clock };
  };
}

describeLeaseManagerContract(
  "memory",
  memoryFixture((now) => new MemoryLeaseManager({ now })),
);
describePortLeasesContract(
  "memory",
  memoryFixture(() => new MemoryPortLeases()),
);
describeCountersContract(
  "memory",
  memoryFixture(() => new MemoryCounters()),
);
describeEventBusContract(
  "memory",
  memoryFixture((now) => new MemoryEventBus({ now, maxLen: EVENT_BUS_CONTRACT_MAX_LEN })),
);
