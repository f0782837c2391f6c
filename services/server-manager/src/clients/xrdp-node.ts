/**
 * What server-manager asks of a node's xrdp-integration, in domain terms: the port the
 * orchestrator, the provisioner and the reaper depend on. The adapter over the generated client is
 * xrdp-node-clients.ts; tests give a fake.
 */
import type { NodeInstance } from "../domain/node-instance.js";
import type { XrdpSettings } from "../domain/xrdp-settings.js";
import type { NodeRecord } from "../store/records.js";

/** A StartInstance: idempotent by `requestId` (a repeat returns the instance it started). */
export interface StartInstanceInput {
  readonly requestId: string;
  readonly serverId: string;
  /** The only account whose desktop logins the instance admits. */
  readonly owner: string;
  /** The port xrdp listens on; 0 on a node with a front door, which chooses one itself. */
  readonly port: number;
  readonly settings?: XrdpSettings;
  /** How long the node waits for the instance to be READY before it answers. */
  readonly waitMs: number;
  /** The call's deadline. */
  readonly timeoutMs: number;
}

/** One node's xrdp-integration. */
export interface XrdpNode {
  /**
   * Starts (or finds) the instance of the request id; its state as the node answered, if any.
   * @throws StartInstanceFailedError (every failure, classified)
   */
  startInstance(input: StartInstanceInput): Promise<NodeInstance | undefined>;
  /** Stops an instance; one the node does not know counts as stopped. */
  stopInstance(instanceId: string, force: boolean): Promise<void>;
  /** Every instance on the node. */
  listInstances(opts?: { signal?: AbortSignal }): Promise<NodeInstance[]>;
  /** How many connections the instance has open. */
  connectionCount(instanceId: string): Promise<number>;
}

/** The nodes' xrdp-integrations, by node address. */
export interface XrdpNodes {
  /** The node at `node.address` (host:port of its API). */
  forNode(node: Pick<NodeRecord, "address">): XrdpNode;
}
