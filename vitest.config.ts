import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "scripts/**/*.test.ts",
      "gen/test/**/*.test.ts",
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "services/*/src/**/*.test.ts",
      "services/*/test/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    // The chaos suite runs on its own: npm run test:chaos (vitest.chaos.config.ts).
    exclude: [...configDefaults.exclude, "test/chaos/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Full-process tests start servers and child processes; two cores do not gain from more.
    pool: "forks",
    maxWorkers: 2,
  },
});
