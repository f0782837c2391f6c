/**
 * The ids a server's create derives from its request: everything a crashed create left behind can
 * be found, asked about and resumed by anyone who knows the request id.
 */
import { randomBytes } from "node:crypto";
import { stableUuid } from "@lucid-rdp/runtime";

/** The id of the server a CreateServer request_id creates: one request id, at most one server. */
export function serverIdFor(requestId: string): string {
  return stableUuid(`create-server:${requestId}`);
}

/** A stable UUID derived from a server id, used as the request id of its StartInstance. */
export function instanceRequestId(serverId: string): string {
  return stableUuid(`start-instance:${serverId}`);
}

/** The lease a replica holds while it creates or resumes a server: the reaper leaves it alone. */
export function provisioningLease(serverId: string): string {
  return `server-manager:provisioning:${serverId}`;
}

/**
 * The owner string of a port claim: the server id, when it was claimed, and a nonce of the claim,
 * so that two concurrent creates of one request id (one server id) never hold, or release, each
 * other's claim.
 */
export function claimOwner(serverId: string, at: Date): string {
  return `${serverId}|${at.getTime()}|${randomBytes(4).toString("hex")}`;
}

export function parseClaimOwner(owner: string): { serverId: string; at: number } {
  const [serverId, at] = owner.split("|");
  return { serverId: serverId ?? owner, at: Number(at ?? 0) };
}
