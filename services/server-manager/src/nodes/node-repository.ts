/**
 * The node records: their reads (NodeReader) and every change server-manager makes: registration
 * (see registration.ts), drain flags and the static nodes' heartbeats, the last two each one
 * `Repository.modify` (read, change, versioned write, retry).
 */
import {
  type AuditEventStore,
  type CallOptions,
  type EventBus,
  NotFoundError,
  Repository,
} from "@lucid-rdp/storage";
import type { NodeRegistration } from "../domain/node-registration.js";
import { NodeNotFoundError } from "../domain/placement.js";
import type { NodeRecord } from "../store/records.js";
import type { NodeStore, ServerStore } from "../store/stores.js";
import { NodeReader } from "./node-reader.js";
import { registerNode } from "./registration.js";

export interface NodeRepositoryOptions {
  readonly nodes: NodeStore;
  /** The servers a registration checks a new port range against. */
  readonly servers: ServerStore;
  readonly bus: EventBus;
  readonly audit: AuditEventStore;
  readonly logger: { warn(obj: object, msg: string): void };
}

/** The repository of node records. */
export class NodeRepository extends NodeReader {
  private readonly repo: Repository<NodeRecord>;

  constructor(private readonly opts: NodeRepositoryOptions) {
    super(opts.nodes);
    this.repo = new Repository<NodeRecord>({
      collection: opts.nodes,
      bus: opts.bus,
      audit: opts.audit,
      logger: opts.logger,
    });
  }

  /**
   * RegisterNode: registers the node, or renews its lease, at `now` (see registerNode).
   * @throws RegistrationRefusedError, TooManyNodesError
   */
  register(
    req: NodeRegistration,
    now: Date,
    opts: CallOptions & { readonly maxNodes?: number } = {},
  ): Promise<{ node: NodeRecord; ttlMs: number }> {
    return registerNode(this.opts.nodes, this.opts.servers, req, now, opts.signal, opts.maxNodes);
  }

  /** Sets the node's drain flag. @throws NodeNotFoundError */
  async setDraining(nodeId: string, draining: boolean, opts?: CallOptions): Promise<NodeRecord> {
    try {
      const { record } = await this.repo.modify(
        nodeId,
        (n) => (n.draining === draining ? undefined : { changes: { draining } }),
        opts,
      );
      return record;
    } catch (e) {
      if (e instanceof NotFoundError) throw new NodeNotFoundError(nodeId);
      throw e;
    }
  }

  /** Records a heartbeat of a static node (the reaper reached it). */
  async touch(nodeId: string, at: Date, opts?: CallOptions): Promise<void> {
    await this.repo.modify(
      nodeId,
      () => ({ changes: { lastHeartbeatTime: at, serving: true } }),
      opts,
    );
  }
}
