/**
 * RegisterNode: registers a node or renews its heartbeat lease. Refused (FAILED_PRECONDITION) for
 * the id of a static node, for another address while the current holder's lease runs, and for a
 * port range that leaves out ports of live servers.
 */
import type { RegisterNodeRequest } from "@lucid-rdp/gen";
import { durationMs } from "@lucid-rdp/runtime";
import { ConflictError } from "@lucid-rdp/storage";
import { isUsableRange } from "../domain/port-pool.js";
import { liveServerStates } from "../domain/server-states.js";
import { joinAddress } from "../service/mappers.js";
import type { NodeRecord } from "../store/records.js";
import type { NodeStore, ServerStore } from "../store/stores.js";

/** Thrown when a node may not register as it asks. */
export class RegistrationRefusedError extends Error {
  override readonly name = "RegistrationRefusedError";
  constructor(
    readonly nodeId: string,
    readonly why: string,
  ) {
    super(`node ${nodeId} cannot register: ${why}`);
  }
}

/** Thrown when a new node would exceed the configured number of nodes. */
export class TooManyNodesError extends Error {
  override readonly name = "TooManyNodesError";
  constructor(readonly max: number) {
    super(`the maximum number of nodes (${max}, SERVER_MANAGER_MAX_NODES) is reached`);
  }
}

export const defaultHeartbeatTtlMs = 15_000;

export async function registerNode(
  nodes: NodeStore,
  servers: ServerStore,
  req: RegisterNodeRequest,
  now: Date,
  signal?: AbortSignal,
  maxNodes = Number.POSITIVE_INFINITY,
): Promise<{ node: NodeRecord; ttlMs: number }> {
  const ttlMs = durationMs(req.leaseTtl) ?? defaultHeartbeatTtlMs;
  const address = joinAddress(req.address?.host ?? "", req.address?.port ?? 0);
  const range = { start: req.portRange?.start ?? 0, end: req.portRange?.end ?? 0 };
  if (!isUsableRange(range)) {
    throw new RegistrationRefusedError(
      req.nodeId,
      "port_range must lie in 1024-65535, clear of 5900-6299",
    );
  }
  const fields = {
    address,
    rdpHost: req.rdpHost || undefined,
    maxServers: req.maxServers,
    portRangeStart: range.start,
    portRangeEnd: range.end,
    labels: { ...req.labels },
    heartbeatTtlMs: ttlMs,
    lastHeartbeatTime: now,
    xrdpVersion: req.xrdpVersion || undefined,
    serving: req.serving,
    statusMessage: req.statusMessage || undefined,
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
        const outside = live.items.filter((s) => s.port < range.start || s.port > range.end);
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
