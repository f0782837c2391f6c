/**
 * Placement: the least-loaded healthy, undrained node under its max-servers cap; ties broken at
 * random so that replicas deciding at the same moment do not all pick the same node.
 */

export interface NodeLoad {
  readonly id: string;
  readonly healthy: boolean;
  readonly draining: boolean;
  readonly maxServers: number;
  /** Live servers placed on the node now. */
  readonly servers: number;
  /** Why the node is unhealthy (its heartbeat's reason); told to a caller no node can serve. */
  readonly message?: string;
}

/** Thrown when no node can take a new server; `kind` says why, for the caller. */
export class NoCapacityError extends Error {
  override readonly name: string = "NoCapacityError";
  constructor(
    readonly kind: "no_healthy_node" | "all_full",
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Thrown when no healthy, undrained node exists. */
export class NoHealthyNodeError extends NoCapacityError {
  override readonly name = "NoHealthyNodeError";
  constructor(detail: string) {
    super("no_healthy_node", detail);
  }
}

/** Thrown when every usable node is at its max-servers cap. */
export class NodesFullError extends NoCapacityError {
  override readonly name = "NodesFullError";
  constructor(detail: string) {
    super("all_full", detail);
  }
}

/** Picks a node, or throws NoCapacityError. `random` returns [0, 1). */
export function pickNode(nodes: readonly NodeLoad[], random: () => number = Math.random): NodeLoad {
  const usable = nodes.filter((n) => n.healthy && !n.draining);
  if (usable.length === 0) {
    const drained = nodes.filter((n) => n.healthy && n.draining).length;
    // The nodes' own reasons, so that the caller of CreateSession learns what to fix (xrdp
    // missing, no displays...), not only that nothing can serve it.
    const why = nodes
      .filter((n) => !n.healthy && n.message)
      .slice(0, 3)
      .map((n) => `node ${n.id}: ${(n.message ?? "").slice(0, 200)}`)
      .join("; ");
    throw new NoHealthyNodeError(
      nodes.length === 0
        ? "no node is registered"
        : `no healthy node accepts servers (${nodes.length} known, ${drained} draining)${why ? `: ${why}` : ""}`,
    );
  }
  const withRoom = usable.filter((n) => n.servers < n.maxServers);
  if (withRoom.length === 0) {
    throw new NodesFullError(
      `every healthy node is at its max-servers cap (${usable.length} nodes)`,
    );
  }
  const load = (n: NodeLoad) => n.servers / n.maxServers;
  const least = Math.min(...withRoom.map(load));
  const tied = withRoom.filter((n) => load(n) === least);
  return tied[Math.floor(random() * tied.length)] as NodeLoad;
}

/** Thrown when a requested node does not exist. */
export class NodeNotFoundError extends Error {
  override readonly name = "NodeNotFoundError";
  constructor(readonly nodeId: string) {
    super(`node ${nodeId} not found`);
  }
}

/** Thrown when a requested node cannot take servers now. */
export class NodeUnavailableError extends Error {
  override readonly name = "NodeUnavailableError";
  constructor(
    readonly nodeId: string,
    readonly why: string,
  ) {
    super(`node ${nodeId} does not accept new servers: ${why}`);
  }
}
