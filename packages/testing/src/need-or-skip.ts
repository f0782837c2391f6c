/** What a test needs, or: the missing piece reported and the test skipped (failed under CI=true). */
import type { MissingToolError } from "./servers.js";

/** The part of vitest's test context a skip needs. */
export interface SkipContext {
  skip: (note?: string) => void;
  task: { name: string };
}

/**
 * Skips the test with a loud line naming `reason`; under `CI=true` throws instead, so a test whose
 * tool, server or host capability is missing fails rather than passing unseen.
 */
export function skipOrFail(ctx: SkipContext, reason: string): never {
  if (process.env.CI === "true") throw new Error(`${ctx.task.name}: ${reason}`);
  process.stderr.write(`\n!!! SKIPPED "${ctx.task.name}": ${reason}\n\n`);
  ctx.skip();
  throw new Error("unreachable: skipped");
}

/**
 * Returns `value` when it is there (a mesh, a server started in beforeAll); otherwise reports the
 * `missing` tool under the test's name and skips the test (fails it under `CI=true`).
 */
export function needOrSkip<T>(
  value: T | undefined,
  missing: MissingToolError | undefined,
  ctx: SkipContext,
): T {
  if (value !== undefined) return value;
  if (process.env.CI === "true" || missing === undefined) {
    throw new Error(
      `${ctx.task.name}: ${missing?.message ?? "what it needs was not started (see the log above)"}`,
    );
  }
  missing.report(ctx.task.name);
  ctx.skip();
  throw new Error("unreachable: skipped");
}
