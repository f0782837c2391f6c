/** The random token that proves one acquisition of a lease. */
import { randomBytes } from "node:crypto";

/** 128 random bits, URL-safe. */
export function newLeaseToken(): string {
  return randomBytes(16).toString("base64url");
}
