/**
 * The reads of node records, in domain terms. The NodeRepository (every change) is one; the
 * handler reads through it.
 */
import type { CallOptions, ListOptions, Page } from "@lucid-rdp/storage";
import type { NodeRecord } from "../store/records.js";
import type { NodeStore } from "../store/stores.js";

/** Reads node records; never writes. */
export class NodeReader {
  constructor(protected readonly nodes: NodeStore) {}

  /** The node. @throws NotFoundError */
  get(id: string, opts?: CallOptions): Promise<NodeRecord> {
    return this.nodes.get(id, opts);
  }

  /** The node, or undefined. */
  find(id: string, opts?: CallOptions): Promise<NodeRecord | undefined> {
    return this.nodes.find(id, opts);
  }

  /** One page of the nodes, newest first. @throws InvalidPageTokenError */
  list(page: Omit<ListOptions<NodeRecord>, "where"> = {}): Promise<Page<NodeRecord>> {
    return this.nodes.list(page);
  }
}
