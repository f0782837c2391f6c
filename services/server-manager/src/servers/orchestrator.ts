/**
 * Creates, stops and repairs servers across nodes. Every change of a server's state goes through
 * `transition` (the life cycle of domain/server-state.ts, optimistic concurrency on the record)
 * and is published on the bus and written to the audit log.
 *
 * Create, in order, so that a failure at any step leaves nothing behind: pick a node, claim a
 * port (Redis lease per (node, port), found and claimed in one atomic step from a random offset:
 * replicas never hand out the same one, nor race for it), store the server PROVISIONING, ask the
 * node to start the instance (the node bind-probes the port: a taken port is released and the
 * next free one claimed, at most 16 in all), then READY. A replica that dies mid-way leaves a PROVISIONING record
 * and maybe an instance and a claim: the reaper repairs or fails those after a timeout.
 */
import { createHash, randomUUID } from "node:crypto";
import { create, toJson } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Instance,
  InstanceState,
  StartInstanceRequestSchema,
  type XrdpSettings,
  XrdpSettingsSchema,
} from "@lucid-rdp/gen";
import { ErrorInfoSchema, type HostHealthLookup, type Logger } from "@lucid-rdp/runtime";
import {
  type AuditEventStore,
  type Changes,
  ConflictError,
  type EventBus,
  type LeaseManager,
  liveServerStates,
  type NodeRecord,
  type NodeStore,
  type PortLeases,
  type ServerRecord,
  type ServerState,
  type ServerStateReason,
  type ServerStore,
} from "@lucid-rdp/storage";
import { NodesFullError, pickNode } from "../domain/placement.js";
import { scanOffset } from "../domain/port-pool.js";
import { isTerminal, nextState } from "../domain/server-state.js";
import type { NodeClients } from "../nodes/node-clients.js";
import { type NodeHealthView, nodeHealth } from "../nodes/node-health.js";

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

/** Thrown when every port of a node's pool is held. */
export class PortPoolExhaustedError extends Error {
  override readonly name = "PortPoolExhaustedError";
  constructor(readonly nodeId: string) {
    super(`the port pool of node ${nodeId} is exhausted`);
  }
}

export interface Actor {
  readonly subject: string;
  readonly roles: readonly string[];
}

export const systemActor: Actor = { subject: "server-manager", roles: ["service"] };

export interface CreateInput {
  readonly requestId: string;
  readonly owner: string;
  readonly nodeId?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The contract's settings message, passed on to the node as is. */
  readonly settings?: XrdpSettings;
  readonly idleTtlMs?: number;
  readonly sessionId?: string;
}

export interface OrchestratorOptions {
  readonly servers: ServerStore;
  readonly nodes: NodeStore;
  readonly audit: AuditEventStore;
  readonly ports: PortLeases;
  readonly leases: LeaseManager;
  readonly bus: EventBus;
  readonly clients: NodeClients;
  readonly logger: Logger;
  /** The host's resource-monitor verdict: nodes whose health is fatal get no new servers. */
  readonly hostHealth?: HostHealthLookup;
  /** How long a node's StartInstance may wait for READY. @default 30000 */
  readonly startWaitMs?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Where in a node's port range a create starts looking (0 <= x < 1). @default Math.random */
  readonly random?: () => number;
}

/** The lease a replica holds while it creates a server: the reaper leaves such servers alone. */
export function provisioningLease(serverId: string): string {
  return `server-manager:provisioning:${serverId}`;
}

const provisioningLeaseTtlMs = 15_000;

/** How many ports one create claims and tries before it gives up on the node's pool. */
const maxPortAttempts = 16;

/** A stable UUID derived from a server id, used as the request id of its StartInstance. */
export function instanceRequestId(serverId: string): string {
  const h = createHash("sha256").update(`start-instance:${serverId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The owner string of a port claim: the server id and when it was claimed. */
export function claimOwner(serverId: string, at: Date): string {
  return `${serverId}|${at.getTime()}`;
}

export function parseClaimOwner(owner: string): { serverId: string; at: number } {
  const [serverId, at] = owner.split("|");
  return { serverId: serverId ?? owner, at: Number(at ?? 0) };
}

export class Orchestrator {
  private readonly now: () => Date;

  constructor(private readonly opts: OrchestratorOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Nodes with their health and load, for placement and ListNodes. */
  async nodeViews(signal?: AbortSignal): Promise<NodeHealthView[]> {
    const nodes = (await this.opts.nodes.list({ pageSize: 1000, signal })).items;
    const live = await this.opts.servers.list({
      where: { state: { in: [...liveServerStates] } },
      pageSize: 1000,
      signal,
    });
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

  /** Places, claims, stores and starts a server. Returns its id (the record may be PROVISIONING). */
  async create(input: CreateInput, actor: Actor, signal?: AbortSignal): Promise<string> {
    const views = await this.nodeViews(signal);
    let node: NodeRecord;
    if (input.nodeId) {
      const v = views.find((x) => x.node.id === input.nodeId);
      if (v === undefined) throw new NodeNotFoundError(input.nodeId);
      if (v.node.draining) throw new NodeUnavailableError(input.nodeId, "it is draining");
      if (!v.healthy) throw new NodeUnavailableError(input.nodeId, v.message);
      if (v.servers >= v.node.maxServers) {
        throw new NodesFullError(
          `node ${input.nodeId} is at its max-servers cap (${v.node.maxServers})`,
        );
      }
      node = v.node;
    } else {
      const chosen = pickNode(
        views.map((v) => ({
          id: v.node.id,
          healthy: v.healthy,
          draining: v.node.draining,
          maxServers: v.node.maxServers,
          servers: v.servers,
        })),
      );
      node = (views.find((v) => v.node.id === chosen.id) as NodeHealthView).node;
    }

    const serverId = randomUUID();
    // While this replica works on the server, its lease tells the reaper to keep off; if the
    // replica dies, the lease lapses and the reaper repairs what was left.
    const lease = await this.opts.leases.acquire(
      provisioningLease(serverId),
      provisioningLeaseTtlMs,
    );
    const renew = setInterval(() => {
      if (lease) void this.opts.leases.renew(lease, provisioningLeaseTtlMs).catch(() => undefined);
    }, provisioningLeaseTtlMs / 3);
    try {
      const range = { start: node.portRangeStart, end: node.portRangeEnd };
      const offset = scanOffset(range, this.opts.random);
      // Ports this create found taken after claiming them (the node could not bind it, or a
      // server record holds it): released, and never offered to this create again.
      const taken = new Set<number>();
      for (let attempt = 0; attempt < maxPortAttempts; attempt++) {
        const owner = claimOwner(serverId, this.now());
        const port = await this.opts.ports.allocate(node.id, range, owner, {
          offset,
          skip: taken,
          signal,
        });
        if (port === undefined) break;
        const outcome = await this.tryPort(node, port, owner, serverId, input, actor);
        if (outcome === "port_taken") {
          taken.add(port);
          continue;
        }
        return serverId;
      }
      throw new PortPoolExhaustedError(node.id);
    } finally {
      clearInterval(renew);
      if (lease) await this.opts.leases.release(lease).catch(() => undefined);
    }
  }

  /** True while a live replica is still creating the server. */
  async isBeingProvisioned(serverId: string): Promise<boolean> {
    const probe = await this.opts.leases.acquire(provisioningLease(serverId), 1_000);
    if (probe === undefined) return true;
    await this.opts.leases.release(probe);
    return false;
  }

  /** Stores the server on `port` and starts its instance; "port_taken" to try another port. */
  private async tryPort(
    node: NodeRecord,
    port: number,
    owner: string,
    serverId: string,
    input: CreateInput,
    actor: Actor,
  ): Promise<"ok" | "port_taken"> {
    let record: ServerRecord;
    try {
      record = await this.opts.servers.insert(
        {
          id: serverId,
          requestId: input.requestId,
          owner: input.owner,
          nodeId: node.id,
          host: node.rdpHost ?? node.address.replace(/:[0-9]+$/, ""),
          port,
          state: "PROVISIONING",
          labels: { ...input.labels },
          sessionId: input.sessionId,
          settings: input.settings
            ? (toJson(XrdpSettingsSchema, input.settings) as Record<string, unknown>)
            : undefined,
          idleTtlMs: input.idleTtlMs,
        },
        // From here on the caller's signal is not ours to follow: a create that has begun is
        // finished (or cleaned up), whether or not the caller still waits for it.
      );
    } catch (e) {
      await this.opts.ports.release(node.id, port, owner).catch(() => undefined);
      // The port is held by a server record the lease scan has not caught up with: next port.
      if (e instanceof Error && e.name === "AlreadyExistsError") return "port_taken";
      throw e;
    }
    await this.emit("server.created", record, undefined, actor, "server.create");
    let instance: Instance | undefined;
    try {
      const res = await this.opts.clients.forNode(node).startInstance(
        create(StartInstanceRequestSchema, {
          requestId: instanceRequestId(serverId),
          serverId,
          // The only account whose desktop logins the instance admits.
          owner: input.owner,
          port,
          settings: input.settings,
          waitTimeout: durationFromMs(this.opts.startWaitMs ?? 30_000),
        }),
      );
      instance = res.instance;
    } catch (e) {
      const err = ConnectError.from(e);
      const portTaken = err.findDetails(ErrorInfoSchema).some((d) => d.reason === "PORT_IN_USE");
      // Nothing half-created: the record goes (or fails, if the node may have started something).
      if (portTaken || err.code === Code.InvalidArgument || err.code === Code.ResourceExhausted) {
        await this.opts.servers.delete(serverId).catch(() => undefined);
        await this.opts.ports.release(node.id, port, owner).catch(() => undefined);
        if (portTaken) return "port_taken";
        throw e;
      }
      await this.fail(
        serverId,
        "PROVISIONING_FAILED",
        `the node could not start the instance: ${err.rawMessage}`,
      );
      throw e;
    }
    if (instance?.state === InstanceState.READY) {
      await this.transition(serverId, "READY", actor, {
        instanceId: instance.id,
        readyTime: this.now(),
      });
    } else if (instance?.state === InstanceState.FAILED) {
      await this.fail(
        serverId,
        "PROVISIONING_FAILED",
        instance.stateMessage || "the instance failed",
      );
    } else if (instance) {
      // Still STARTING: the reaper promotes it once the node reports READY.
      await this.update(serverId, { instanceId: instance.id });
    }
    return "ok";
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
    const s = await this.opts.servers.get(serverId);
    if (s.state === "STOPPING" || isTerminal(s.state)) return s;
    if (!opts.force && opts.graceMs > 0 && s.state === "READY") {
      const connections = await this.connectionCount(s);
      if (connections > 0) {
        return this.transition(serverId, "DRAINING", actor, {
          stateReason: "DELETE_REQUESTED",
          stateMessage: `waiting up to ${opts.graceMs} ms for ${connections} connection(s) to close`,
          deleteDeadline: new Date(this.now().getTime() + opts.graceMs),
        });
      }
    }
    const stopping = await this.transition(serverId, "STOPPING", actor, {
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
    const s = await this.opts.servers.get(serverId);
    if (s.state !== "STOPPING") return;
    const node = await this.opts.nodes.find(s.nodeId);
    if (s.instanceId && node) {
      try {
        await this.opts.clients.forNode(node).stopInstance({ instanceId: s.instanceId, force });
      } catch (e) {
        const err = ConnectError.from(e);
        if (err.code !== Code.NotFound) throw e;
      }
    }
    await this.releasePort(s);
    await this.transition(serverId, "STOPPED", systemActor, {
      stopTime: this.now(),
      stateMessage: "stopped",
    });
  }

  /** Marks a server FAILED with a reason and frees its port. */
  async fail(serverId: string, reason: ServerStateReason, message: string): Promise<void> {
    const s = await this.opts.servers.find(serverId);
    if (s === undefined || isTerminal(s.state)) return;
    await this.transition(serverId, "FAILED", systemActor, {
      stateReason: reason,
      stateMessage: message,
    });
    await this.releasePort(s);
  }

  /** Promotes a PROVISIONING server whose instance the node reports READY. */
  async markReady(serverId: string, instanceId: string): Promise<void> {
    await this.transition(serverId, "READY", systemActor, { instanceId, readyTime: this.now() });
  }

  async releasePort(s: ServerRecord): Promise<void> {
    const held = await this.opts.ports.list(s.nodeId);
    const owner = held.get(s.port);
    if (owner !== undefined && parseClaimOwner(owner).serverId === s.id) {
      await this.opts.ports.release(s.nodeId, s.port, owner);
    }
  }

  private async connectionCount(s: ServerRecord): Promise<number> {
    const node = await this.opts.nodes.find(s.nodeId);
    if (!node || !s.instanceId) return 0;
    try {
      const res = await this.opts.clients
        .forNode(node)
        .listConnections({ instanceId: s.instanceId, pageSize: 1000 });
      return res.connections.length;
    } catch {
      return 0;
    }
  }

  private async update(id: string, changes: Changes<ServerRecord>): Promise<ServerRecord> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.opts.servers.get(id);
      try {
        return await this.opts.servers.update(id, current.version, changes);
      } catch (e) {
        if (e instanceof ConflictError && attempt < 5) continue;
        throw e;
      }
    }
  }

  /** Moves a server to `to` (checked against the life cycle), stores, publishes and audits it. */
  async transition(
    id: string,
    to: ServerState,
    actor: Actor,
    changes: Changes<ServerRecord> = {},
  ): Promise<ServerRecord> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.opts.servers.get(id);
      if (current.state === to) return current;
      const state = nextState(id, current.state, to);
      try {
        const next = await this.opts.servers.update(id, current.version, { ...changes, state });
        await this.emit(
          "server.state_changed",
          next,
          current.state,
          actor,
          `server.${to.toLowerCase()}`,
        );
        return next;
      } catch (e) {
        if (e instanceof ConflictError && attempt < 5) continue;
        throw e;
      }
    }
  }

  private async emit(
    type: string,
    server: ServerRecord,
    previousState: ServerState | undefined,
    actor: Actor,
    action: string,
  ): Promise<void> {
    try {
      await this.opts.bus.publish({ type, subject: server.id, data: { server, previousState } });
    } catch (e) {
      this.opts.logger.warn({ err: e, type, server: server.id }, "event not published");
    }
    try {
      await this.opts.audit.insert({
        id: randomUUID(),
        time: this.now(),
        actorSubject: actor.subject,
        actorRoles: [...actor.roles],
        action,
        resourceType: "server",
        resourceId: server.id,
        requestId: server.requestId,
        details: {
          state: server.state,
          ...(previousState ? { previous_state: previousState } : {}),
          ...(server.stateReason ? { reason: server.stateReason } : {}),
          node: server.nodeId,
          port: String(server.port),
        },
      });
    } catch (e) {
      this.opts.logger.warn({ err: e, server: server.id }, "audit event not written");
    }
  }
}
