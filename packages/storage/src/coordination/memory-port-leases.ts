/** Port leases in process memory, with the semantics of the Redis adapter. */
import { assertName, assertPort } from "./arguments.js";
import type { CallOptions, PortLeases } from "./ports.js";

/** The memory adapter of `PortLeases`. */
export class MemoryPortLeases implements PortLeases {
  private readonly nodes = new Map<string, Map<number, string>>();

  async claim(nodeId: string, port: number, ownerId: string, opts?: CallOptions): Promise<boolean> {
    assertName("nodeId", nodeId);
    assertPort(port);
    assertName("ownerId", ownerId);
    opts?.signal?.throwIfAborted();
    let ports = this.nodes.get(nodeId);
    if (!ports) {
      ports = new Map();
      this.nodes.set(nodeId, ports);
    }
    const owner = ports.get(port);
    if (owner === undefined) ports.set(port, ownerId);
    return owner === undefined || owner === ownerId;
  }

  async release(
    nodeId: string,
    port: number,
    ownerId: string,
    opts?: CallOptions,
  ): Promise<boolean> {
    assertPort(port);
    opts?.signal?.throwIfAborted();
    const ports = this.nodes.get(nodeId);
    if (ports?.get(port) !== ownerId) return false;
    ports.delete(port);
    return true;
  }

  async owner(nodeId: string, port: number, opts?: CallOptions): Promise<string | undefined> {
    assertPort(port);
    opts?.signal?.throwIfAborted();
    return this.nodes.get(nodeId)?.get(port);
  }

  async list(nodeId: string, opts?: CallOptions): Promise<Map<number, string>> {
    opts?.signal?.throwIfAborted();
    const ports = [...(this.nodes.get(nodeId) ?? [])].sort(([a], [b]) => a - b);
    return new Map(ports);
  }

  async releaseAllOf(ownerId: string, nodeId: string, opts?: CallOptions): Promise<number> {
    opts?.signal?.throwIfAborted();
    const ports = this.nodes.get(nodeId);
    if (!ports) return 0;
    let freed = 0;
    for (const [port, owner] of ports) {
      if (owner === ownerId) {
        ports.delete(port);
        freed++;
      }
    }
    return freed;
  }
}
