import { configDefaults, defineConfig } from "vitest/config";

/** The chaos suite runs on its own: npm run test:chaos (vitest.chaos.config.ts). */
const exclude = [...configDefaults.exclude, "test/chaos/**"];

/**
 * Two projects, both run by `npm test`:
 * - unit (`npm run test:unit`): the `*.test.ts` beside the code in src/ and the checks of the
 *   generated code; no child process, no server, no real backend.
 * - process (`npm run test:process`): every test/ folder and the scripts' tests: real ports, real
 *   Redis and FerretDB, real xrdp, services run as child processes.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Full-process tests start servers and child processes; two cores do not gain from more.
    pool: "forks",
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [
            "gen/test/**/*.test.ts",
            "packages/*/src/**/*.test.ts",
            "services/*/src/**/*.test.ts",
          ],
          exclude,
        },
      },
      {
        extends: true,
        test: {
          name: "process",
          include: [
            "scripts/**/*.test.ts",
            "packages/*/test/**/*.test.ts",
            "services/*/test/**/*.test.ts",
            "test/**/*.test.ts",
          ],
          exclude,
        },
      },
    ],
  },
});
