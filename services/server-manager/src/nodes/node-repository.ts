/**
 * Changes to node records that server-manager makes besides registration: drain flags and the
 * static nodes' heartbeats, each one `Repository.modify` (read, change, versioned write, retry).
 */
import {
  type AuditEventStore,
  type CallOptions,
  type EventBus,
  NotFoundError,
  Repository,
} from "@lucid-rdp/storage";
import { NodeNotFoundError } from "../domain/placement.js";
import type { NodeRecord } from "../store/records.js";
import type { NodeStore } from "../store/stores.js";

export interface NodeRepositoryOptions {
  readonly nodes: NodeStore;
  readonly bus: EventBus;
  readonly audit: AuditEventStore;
  readonly logger: { warn(obj: object, msg: string): void };
}

export class NodeRepository {
  private readonly repo: Repository<NodeRecord>;

  constructor(opts: NodeRepositoryOptions) {
    this.repo = new Repository<NodeRecord>({
      collection: opts.nodes,
      bus: opts.bus,
      audit: opts.audit,
      logger: opts.logger,
    });
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
