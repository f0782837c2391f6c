/**
 * Ids that follow from a request: the same seed always gives the same UUID, so a create retried
 * after a crash finds what its first attempt made instead of making a second one.
 */
import { createHash } from "node:crypto";

/** A UUID (version-4 layout) from the SHA-256 of `seed`: the same seed, the same id. */
export function stableUuid(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
