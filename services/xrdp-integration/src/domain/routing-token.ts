/**
 * Routing tokens: what an RDP client sends in its X.224 Connection Request (an .rdp file's
 * `loadbalanceinfo:s:`, FreeRDP's `/load-balance-info:`) so that the node's front door relays it
 * to its instance. A token is derived, not stored: HMAC-SHA256 of the instance id under the node's
 * routing key (host/routing-key-file.ts). So a retried StartInstance answers the same token, a
 * crash between issuing and recording it loses nothing, and a leaked database row lets no one in.
 * It is unguessable (192 bits of the MAC) and useless once its instance ends: the door routes only
 * live, assigned instances.
 */
import { createHmac } from "node:crypto";

/** Every token starts with it (the version of the derivation). */
export const routingTokenPrefix = "lr1-";

/** The routing key's length in bytes. */
export const routingKeyBytes = 32;

/**
 * The token of instance `instanceId` under `key`: `lr1-` and 32 base64url characters (24 bytes of
 * the MAC), 36 printable ASCII characters, an even length (mstsc pads odd ones with a space).
 */
export function routingTokenFor(key: Buffer, instanceId: string): string {
  if (key.length !== routingKeyBytes) throw new Error(`a routing key has ${routingKeyBytes} bytes`);
  const mac = createHmac("sha256", key).update(`lucid-rdp routing token:${instanceId}`).digest();
  return routingTokenPrefix + mac.subarray(0, 24).toString("base64url");
}

/** True for something shaped like a token (the door looks up only those). */
export function isRoutingTokenShaped(s: string): boolean {
  return /^lr1-[A-Za-z0-9_-]{32}$/.test(s);
}
