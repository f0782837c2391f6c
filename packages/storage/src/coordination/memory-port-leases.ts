/** Port leases in process memory, with the semantics of the Redis adapter. */
import { allocateArguments, assertName, assertPort } from "./arguments.js";
import type { AllocateOptions, CallOptions, PortLeases, PortRange } from "./ports.js";

/** The memory adapter of `PortLeases`. */
export class MemoryPortLeases implements PortLeases {
  private readonly nodes = new Map<string, Map<number, string>>();

  async claim(nodeId: string, port: number, ownerId: string, opts?: CallOptions): Promise<boolean> {
    assertName("nodeId", nodeId);
    assertPort(port);
    assertName("ownerId", ownerId);
    opts?.signal?.throwIfAborted();
    const ports = this.portsOf(nodeId);
    const owner = ports.get(port);
    if (owner === undefined) ports.set(port, ownerId);
    return owner === undefined || owner === ownerId;
  }

  async allocate(
    nodeId: string,
    range: PortRange,
    ownerId: string,
    opts?: AllocateOptions,
  ): Promise<number | undefined> {
    const { start, end, offset, skip } = allocateArguments(nodeId, range, ownerId, opts);
    opts?.signal?.throwIfAborted();
    const skipped = new Set(skip);
    const size = end - start + 1;
    // Synchronous from here to the claim: nothing else runs in between, as in the Redis script.
    for (let i = 0; i < size; i++) {
      const port = start + ((offset + i) % size);
      if (skipped.has(port)) continue;
      const owner = this.nodes.get(nodeId)?.get(port);
      if (owner === ownerId) return port;
      if (owner === undefined) {
        this.portsOf(nodeId).set(port, ownerId);
        return port;
      }
    }
    return undefined;
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

  /** The node's claims, created empty on first use. */
  private portsOf(nodeId: string): Map<number, string> {
    let ports = this.nodes.get(nodeId);
    if (!ports) {
      ports = new Map();
      this.nodes.set(nodeId, ports);
    }
    return ports;
  }
}
