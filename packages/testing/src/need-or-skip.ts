/** What a test needs, or: the missing tool reported and the test skipped. */
import type { MissingToolError } from "./servers.js";

/** The part of vitest's test context a skip needs. */
export interface SkipContext {
  skip: (note?: string) => void;
  task: { name: string };
}

/**
 * Returns `value` when it is there (a mesh, a server started in beforeAll); otherwise reports the
 * `missing` tool under the test's name and skips the test.
 */
export function needOrSkip<T>(
  value: T | undefined,
  missing: MissingToolError | undefined,
  ctx: SkipContext,
): T {
  if (value === undefined) {
    missing?.report(ctx.task.name);
    ctx.skip();
    throw new Error("unreachable: skipped");
  }
  return value;
}
