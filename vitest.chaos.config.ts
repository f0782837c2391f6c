import { defineConfig } from "vitest/config";

/**
 * The chaos suite of issue 15 (`npm run test:chaos`): faults injected into a real mesh during
 * bursts of creates, then the invariants checked against the stores, Redis and the process table.
 * One scenario at a time, each on a fresh mesh: two cores run one mesh under load, not two.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.chaos.test.ts"],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
  },
});
