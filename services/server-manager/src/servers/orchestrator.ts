/**
 * Places, creates, stops and repairs servers across nodes: the application service the handler
 * and the reaper call. Every change of a server goes through the ServerRepository (life cycle
 * check, optimistic concurrency, the event and audit record stored in the same write). Creating
 * is the Provisioner's (a resumable step keyed by the request id); stopping is here.
 */
import { type Clock, type HostHealthLookup, type Logger, systemClock } from "@lucid-rdp/runtime";
import type { LeaseManager, PortLeases } from "@lucid-rdp/storage";
import type { XrdpNodes } from "../clients/xrdp-node.js";
import {
  isTerminal,
  liveServerStates,
  type ServerState,
  type ServerStateReason,
} from "../domain/server-state.js";
import { type NodeHealthView, nodeHealth } from "../nodes/node-health.js";
import type { ServerRecord } from "../store/records.js";
import type { NodeStore, ServerStore } from "../store/stores.js";
import { releaseClaim } from "./port-claims.js";
import {
  type CreateInput,
  type CreateOptions,
  type CreateResult,
  Provisioner,
  type ResumeOutcome,
} from "./provisioner.js";
import { provisioningLease } from "./server-ids.js";
import { type Actor, type ServerRepository, systemActor } from "./server-repository.js";

export { NodeNotFoundError, NodeUnavailableError } from "../domain/placement.js";
export { PortPoolExhaustedError } from "../domain/port-pool.js";
export type { CreateInput, CreateResult } from "./provisioner.js";
export {
  claimOwner,
  instanceRequestId,
  parseClaimOwner,
  provisioningLease,
  serverIdFor,
} from "./server-ids.js";
export { type Actor, systemActor } from "./server-repository.js";

export interface OrchestratorOptions {
  readonly repo: ServerRepository;
  readonly servers: ServerStore;
  readonly nodes: NodeStore;
  readonly ports: PortLeases;
  readonly leases: LeaseManager;
  readonly clients: XrdpNodes;
  readonly logger: Logger;
  /** The host's resource-monitor verdict: nodes whose health is fatal get no new servers. */
  readonly hostHealth?: HostHealthLookup;
  /** How long a node's StartInstance may wait for READY. @default 30000 */
  readonly startWaitMs?: number;
  /** The wall clock. @default systemClock */
  readonly clock?: Clock;
  /** Where in a node's port range a create starts looking (0 <= x < 1). @default Math.random */
  readonly random?: () => number;
}

export class Orchestrator {
  readonly repo: ServerRepository;
  private readonly now: Clock;
  private readonly provisioner: Provisioner;

  constructor(private readonly opts: OrchestratorOptions) {
    this.now = opts.clock ?? systemClock;
    this.repo = opts.repo;
    this.provisioner = new Provisioner({
      repo: opts.repo,
      nodes: opts.nodes,
      ports: opts.ports,
      leases: opts.leases,
      clients: opts.clients,
      logger: opts.logger,
      nodeViews: (signal) => this.nodeViews(signal),
      startWaitMs: opts.startWaitMs,
      clock: opts.clock,
      random: opts.random,
    });
  }

  /** Nodes with their health and load, for placement and ListNodes. */
  async nodeViews(signal?: AbortSignal): Promise<NodeHealthView[]> {
    // Two independent reads: side by side, one round trip of waiting instead of two.
    const [nodePage, live] = await Promise.all([
      this.opts.nodes.list({ pageSize: 1000, signal }),
      this.opts.servers.list({
        where: { state: { in: [...liveServerStates] } },
        pageSize: 1000,
        signal,
      }),
    ]);
    const nodes = nodePage.items;
    const counts = new Map<string, number>();
    for (const s of live.items) counts.set(s.nodeId, (counts.get(s.nodeId) ?? 0) + 1);
    const views = nodes.map((n) => nodeHealth(n, counts.get(n.id) ?? 0, this.now()));
    const lookup = this.opts.hostHealth;
    if (lookup === undefined) return views;
    return Promise.all(
      views.map(async (v) => {
        if (!v.healthy) return v;
        const host = v.node.rdpHost ?? v.node.address.replace(/:[0-9]+$/, "");
        const h = await lookup(host);
        return h?.fatal
          ? { ...v, healthy: false, message: `host health is fatal: ${h.message}` }
          : v;
      }),
    );
  }

  /** The server of the request (see Provisioner.create): its id, and its record when known. */
  create(input: CreateInput, actor: Actor, opts: CreateOptions = {}): Promise<CreateResult> {
    return this.provisioner.create(input, actor, opts);
  }

  /** Resumes a PROVISIONING server (see Provisioner.resume). */
  resume(serverId: string, opts: CreateOptions = {}): Promise<ResumeOutcome> {
    return this.provisioner.resume(serverId, opts);
  }

  /** True while a live replica is still creating or resuming the server. */
  async isBeingProvisioned(serverId: string): Promise<boolean> {
    const probe = await this.opts.leases.acquire(provisioningLease(serverId), 1_000);
    if (probe === undefined) return true;
    await this.opts.leases.release(probe);
    return false;
  }

  /**
   * Deletes a server: force, or no connections left -> STOPPING and the instance stopped;
   * otherwise DRAINING until its connections close or the grace time ends (the reaper finishes).
   */
  async delete(
    serverId: string,
    opts: { force: boolean; graceMs: number },
    actor: Actor,
  ): Promise<ServerRecord> {
    const s = await this.repo.get(serverId);
    if (s.state === "STOPPING" || isTerminal(s.state)) return s;
    if (!opts.force && opts.graceMs > 0 && s.state === "READY") {
      const connections = await this.connectionCount(s);
      if (connections > 0) {
        return this.repo.transition(serverId, "DRAINING", actor, {
          stateReason: "DELETE_REQUESTED",
          stateMessage: `waiting up to ${opts.graceMs} ms for ${connections} connection(s) to close`,
          deleteDeadline: new Date(this.now().getTime() + opts.graceMs),
        });
      }
    }
    const stopping = await this.repo.transition(serverId, "STOPPING", actor, {
      stateReason: s.stateReason ?? "DELETE_REQUESTED",
      stateMessage: "stopping",
    });
    void this.finishStop(serverId, opts.force || s.state === "DRAINING").catch((e: unknown) =>
      this.opts.logger.warn({ err: e, server: serverId }, "stop not finished: the reaper retries"),
    );
    return stopping;
  }

  /** Stops a STOPPING server's instance, frees its port, marks it STOPPED. Idempotent. */
  async finishStop(serverId: string, force: boolean): Promise<void> {
    const s = await this.repo.get(serverId);
    if (s.state !== "STOPPING") return;
    const node = await this.opts.nodes.find(s.nodeId);
    if (s.instanceId && node) {
      // An instance the node does not know is stopped.
      await this.opts.clients.forNode(node).stopInstance(s.instanceId, force);
    }
    await releaseClaim(this.opts.ports, s);
    await this.repo.transition(
      serverId,
      "STOPPED",
      systemActor,
      { stopTime: this.now(), stateMessage: "stopped" },
      { from: ["STOPPING"] },
    );
  }

  /**
   * Marks a server FAILED with a reason and frees its port, if it is in one of the states `from`
   * (default: any live state).
   */
  fail(
    serverId: string,
    reason: ServerStateReason,
    message: string,
    from?: readonly ServerState[],
  ): Promise<void> {
    return this.provisioner.fail(serverId, reason, message, from);
  }

  /** Promotes a PROVISIONING server whose instance the node reports READY. */
  async markReady(serverId: string, instanceId: string): Promise<void> {
    await this.repo.transition(
      serverId,
      "READY",
      systemActor,
      { instanceId, readyTime: this.now() },
      { from: ["PROVISIONING"] },
    );
  }

  private async connectionCount(s: ServerRecord): Promise<number> {
    const node = await this.opts.nodes.find(s.nodeId);
    if (!node || !s.instanceId) return 0;
    try {
      return await this.opts.clients.forNode(node).connectionCount(s.instanceId);
    } catch {
      return 0;
    }
  }
}
