/**
 * The routing token of a parsed Connection Request, as the door looks it up
 * (docs/rdp-front-door.md): the raw line FreeRDP's /load-balance-info: sends, or the documented
 * `Cookie: msts=<token>` form, with mstsc's even-length padding (trailing spaces) trimmed.
 */
import { createHash } from "node:crypto";
import type { ConnectionRequest } from "../domain/x224-connection-request.js";

/** The longest token the door accepts: with an RDP_NEG_REQ, the X.224 LI stays at most 254. */
export const maxRoutingTokenLength = 238;

const mstsPrefix = "Cookie: msts=";

/** The token, or why there is none to look up. */
export type RoutingTokenOf =
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "missing" }
  | { readonly kind: "malformed"; readonly token: string };

/**
 * The token of `request`: "missing" for no line or a `Cookie: mstshash=` line (a client without a
 * .rdp file's loadbalanceinfo), "malformed" for one that is empty after trimming, longer than
 * {@link maxRoutingTokenLength} or not visible ASCII (0x21 to 0x7e: tokens hold no spaces).
 */
export function routingTokenOf(request: ConnectionRequest): RoutingTokenOf {
  if (request.routingToken === undefined) return { kind: "missing" };
  let token = request.routingToken.replace(/[\r\n ]+$/, "");
  if (token.startsWith(mstsPrefix)) token = token.slice(mstsPrefix.length);
  if (token.length === 0 || token.length > maxRoutingTokenLength || !/^[\x21-\x7e]+$/.test(token)) {
    return { kind: "malformed", token };
  }
  return { kind: "token", token };
}

/** What the log shows of a token: the first 12 hex digits of its SHA-256, never the token. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token, "latin1").digest("hex").slice(0, 12);
}
