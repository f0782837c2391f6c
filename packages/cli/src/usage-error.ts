/** Thrown for a bad flag value or a missing argument: the CLI prints its message and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
