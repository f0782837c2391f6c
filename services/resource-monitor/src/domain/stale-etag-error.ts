/** Thrown when an update names a version (etag) that is not the rule's current one. */
export class StaleEtagError extends Error {
  override readonly name = "StaleEtagError";
  constructor(
    readonly ruleId: string,
    readonly etag: string,
  ) {
    super(`alert rule ${ruleId} changed since etag ${etag}: read it again`);
  }
}
