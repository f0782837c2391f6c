import { accessSync, constants, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, three levels up from this file. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Finds an executable that full-process tests drive, such as grpcurl. Looks on `$PATH`, then in
 * `<repo>/.tools/bin` (git-ignored), then in `$HOME/go/bin`.
 *
 * When the tool is missing and `CI=true`, throws an error naming `installHint`, so the test fails
 * instead of silently passing. Otherwise returns undefined; the caller should then report it with
 * {@link reportMissingTool} and skip the test with `ctx.skip()`.
 */
export function findTool(name: string, installHint: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? "").split(delimiter).filter((dir) => dir !== ""),
    join(repoRoot, ".tools", "bin"),
    join(homedir(), "go", "bin"),
  ];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) {
      return candidate;
    }
  }
  if (process.env.CI === "true") {
    throw new Error(missingMessage(name, installHint));
  }
  return undefined;
}

/**
 * Writes a loud line to stderr saying that `name` is missing, that the test using it is skipped,
 * and how to install it.
 */
export function reportMissingTool(name: string, installHint: string, test: string): void {
  process.stderr.write(`\n!!! SKIPPED "${test}": ${missingMessage(name, installHint)}\n\n`);
}

function missingMessage(name: string, installHint: string): string {
  return `${name} not found on $PATH, in .tools/bin or in ~/go/bin; install it with: ${installHint}`;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
