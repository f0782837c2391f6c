/**
 * A server's port claim (Redis lease per node and port), found by the server id in its owner. A
 * server behind its node's front door (`viaDoor`) holds none: both calls leave the pool alone.
 */
import type { PortLeases } from "@lucid-rdp/storage";
import type { ServerRecord } from "../store/records.js";
import { claimOwner, parseClaimOwner } from "./server-ids.js";

type Held = Pick<ServerRecord, "id" | "nodeId" | "port" | "viaDoor">;

/** Frees the server's port when the server still holds it. */
export async function releaseClaim(ports: PortLeases, s: Held): Promise<void> {
  if (s.viaDoor === true) return;
  const owner = await ports.owner(s.nodeId, s.port);
  if (owner !== undefined && parseClaimOwner(owner).serverId === s.id) {
    await ports.release(s.nodeId, s.port, owner);
  }
}

/**
 * Makes sure the server holds its port: true when it does (already, or claimed again after the
 * claim was released) or needs none (behind a door), false when another server holds it now.
 */
export async function ensureClaim(ports: PortLeases, s: Held, now: Date): Promise<boolean> {
  if (s.viaDoor === true) return true;
  const owner = await ports.owner(s.nodeId, s.port);
  if (owner !== undefined) return parseClaimOwner(owner).serverId === s.id;
  return ports.claim(s.nodeId, s.port, claimOwner(s.id, now));
}
