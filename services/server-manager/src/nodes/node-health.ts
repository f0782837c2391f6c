/** A node's health as placement and ListNodes see it. */
import type { NodeRecord } from "../store/records.js";

export interface NodeHealthView {
  readonly node: NodeRecord;
  readonly healthy: boolean;
  /** Why it is unhealthy; empty when healthy. */
  readonly message: string;
  /** When its heartbeat lease lapses (registered nodes). */
  readonly leaseExpireTime?: Date;
  /** Live servers placed on it. */
  readonly servers: number;
}

/**
 * Registered nodes are healthy while their heartbeat lease runs and they report serving; static
 * nodes while their last check (by the reaper, recorded as a heartbeat) is recent or absent.
 */
export function nodeHealth(node: NodeRecord, servers: number, now: Date): NodeHealthView {
  const last = node.lastHeartbeatTime?.getTime();
  const leaseExpireTime = last === undefined ? undefined : new Date(last + node.heartbeatTtlMs);
  let message = "";
  if (node.source === "registered") {
    if (leaseExpireTime === undefined || leaseExpireTime.getTime() <= now.getTime()) {
      message = `heartbeat lease lapsed${leaseExpireTime ? ` at ${leaseExpireTime.toISOString()}` : ""}`;
    }
  } else if (leaseExpireTime !== undefined && leaseExpireTime.getTime() <= now.getTime()) {
    message = `not reachable since ${new Date(last as number).toISOString()}`;
  }
  if (message === "" && node.serving === false) {
    message = `the node reports not serving: ${node.statusMessage ?? "no reason given"}`;
  }
  return { node, healthy: message === "", message, leaseExpireTime, servers };
}
