/**
 * RegisterNode: registers a node or renews its heartbeat lease. Refused (FAILED_PRECONDITION) for
 * the id of a static node, for another address while the current holder's lease runs, and for a
 * port range that leaves out ports of live servers.
 */
import { ConflictError } from "@lucid-rdp/storage";
import type { NodeRegistration } from "../domain/node-registration.js";
import { isUsableRange } from "../domain/port-pool.js";
import { RegistrationRefusedError, TooManyNodesError } from "../domain/registration-errors.js";
import { liveServerStates } from "../domain/server-state.js";
import type { NodeRecord } from "../store/records.js";
import type { NodeStore, ServerStore } from "../store/stores.js";

/** How long a node's lease runs when its registration names no TTL. */
export const defaultHeartbeatTtlMs = 15_000;

/**
 * Registers the node, or renews its lease and what it says of itself, at `now`.
 * @throws RegistrationRefusedError, TooManyNodesError, store errors
 */
export async function registerNode(
  nodes: NodeStore,
  servers: ServerStore,
  req: NodeRegistration,
  now: Date,
  signal?: AbortSignal,
  maxNodes = Number.POSITIVE_INFINITY,
): Promise<{ node: NodeRecord; ttlMs: number }> {
  const ttlMs = req.leaseTtlMs ?? defaultHeartbeatTtlMs;
  const address = req.address;
  const range = { start: req.portRange.start, end: req.portRange.end };
  if (!isUsableRange(range)) {
    throw new RegistrationRefusedError(
      req.nodeId,
      "port_range must lie in 1024-65535, clear of 5900-6299",
    );
  }
  const fields = {
    address,
    rdpHost: req.rdpHost,
    maxServers: req.maxServers,
    portRangeStart: range.start,
    portRangeEnd: range.end,
    labels: { ...req.labels },
    heartbeatTtlMs: ttlMs,
    lastHeartbeatTime: now,
    xrdpVersion: req.xrdpVersion,
    rdpDoorPort: req.rdpDoorPort,
    warmPoolTarget: req.warmPoolTarget,
    warmPoolReady: req.warmPoolReady,
    serving: req.serving,
    statusMessage: req.statusMessage,
  };
  for (let attempt = 0; ; attempt++) {
    const existing = await nodes.find(req.nodeId, { signal });
    try {
      if (existing === undefined) {
        if ((await nodes.count({}, { signal })) >= maxNodes) throw new TooManyNodesError(maxNodes);
        const node = await nodes.insert(
          { id: req.nodeId, source: "registered", draining: false, ...fields },
          { signal },
        );
        return { node, ttlMs };
      }
      if (existing.source === "static") {
        throw new RegistrationRefusedError(req.nodeId, "the id belongs to a static node");
      }
      const leaseRuns =
        existing.lastHeartbeatTime !== undefined &&
        existing.lastHeartbeatTime.getTime() + existing.heartbeatTtlMs > now.getTime();
      if (existing.address !== address && leaseRuns) {
        throw new RegistrationRefusedError(
          req.nodeId,
          `another address (${existing.address}) holds a live lease on the id`,
        );
      }
      if (range.start !== existing.portRangeStart || range.end !== existing.portRangeEnd) {
        const live = await servers.list({
          where: { nodeId: req.nodeId, state: { in: [...liveServerStates] } },
          pageSize: 1000,
          signal,
        });
        // Servers behind the node's door hold no port of the range.
        const outside = live.items.filter(
          (s) => s.viaDoor !== true && (s.port < range.start || s.port > range.end),
        );
        if (outside.length > 0) {
          throw new RegistrationRefusedError(
            req.nodeId,
            `the new port_range leaves out ports held by live servers (${outside.map((s) => s.port).join(", ")})`,
          );
        }
      }
      const node = await nodes.update(existing.id, existing.version, fields, { signal });
      return { node, ttlMs };
    } catch (e) {
      if (
        (e instanceof ConflictError || (e instanceof Error && e.name === "AlreadyExistsError")) &&
        attempt < 5
      ) {
        continue;
      }
      throw e;
    }
  }
}
