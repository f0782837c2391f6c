/**
 * The ServerManagerService handlers: contract messages in, orchestrator and repositories, messages
 * out. CreateServer's idempotency is the server record itself (its id derives from the request id).
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CreateServerResponseSchema,
  DeleteServerResponseSchema,
  DrainNodeResponseSchema,
  GetPortPoolResponseSchema,
  GetServerResponseSchema,
  ListNodesResponseSchema,
  ListServersResponseSchema,
  NodeHealth,
  PortAllocationSchema,
  PortPoolSchema,
  PortRangeSchema,
  RegisterNodeResponseSchema,
  ServerEventType,
  type ServerManagerService,
  UndrainNodeResponseSchema,
  WatchServersResponseSchema,
} from "@lucid-rdp/gen";
import {
  type Clock,
  durationMs,
  type Principal,
  principalKey,
  roleName,
  systemClock,
  type UsageLookup,
} from "@lucid-rdp/runtime";
import { type BusEvent, BusWakeups, type EventBus, type PortLeases } from "@lucid-rdp/storage";
import { nodeHealth } from "../nodes/node-health.js";
import { pageOfNodes } from "../nodes/node-page.js";
import type { NodeRepository } from "../nodes/node-repository.js";
import {
  type Actor,
  NodeNotFoundError,
  type Orchestrator,
  parseClaimOwner,
} from "../servers/orchestrator.js";
import type { ServerReader } from "../servers/server-reader.js";
import type { ServerRecord } from "../store/records.js";
import {
  nodeToProto,
  registrationFromProto,
  reviveServer,
  serverStateFromProto,
  serverStateToProto,
  serverToProto,
  settingsFromProto,
} from "./mappers.js";

type Impl = ServiceImpl<typeof ServerManagerService>;

export interface ServerManagerDeps {
  readonly orchestrator: Orchestrator;
  /** The reads of server records (the orchestrator's ServerRepository). */
  readonly servers: ServerReader;
  readonly ports: PortLeases;
  /** The node records: reads, registration, drain flags. */
  readonly nodeRepo: NodeRepository;
  readonly bus: EventBus;
  readonly defaultDeleteGraceMs: number;
  /** @default unlimited */
  readonly maxNodes?: number;
  /** CPU and memory of a server from its host's resource-monitor; absent without one. */
  readonly usage?: UsageLookup;
  readonly shutdownSignal: () => AbortSignal | undefined;
  /**
   * Wakes CreateServer's wait on the `server` events of `bus`.
   * @default wake-ups of its own on `bus`, started at the first wait
   */
  readonly wakeups?: BusWakeups;
  /** The wall clock. @default systemClock */
  readonly clock?: Clock;
}

const ms = durationMs;

/** How long before the caller's deadline CreateServer stops waiting and answers. */
const answerMarginMs = 1_000;

function actorOf(ctx: HandlerContext): Actor {
  const p: Principal | undefined = ctx.values.get(principalKey);
  if (p === undefined) return { subject: "anonymous", roles: [] };
  return { subject: p.subject, roles: [...p.roles].map(roleName) };
}

export class ServerManagerHandler implements Impl {
  private readonly now: Clock;
  private readonly wakeups: BusWakeups;

  constructor(private readonly deps: ServerManagerDeps) {
    this.now = deps.clock ?? systemClock;
    this.wakeups = deps.wakeups ?? new BusWakeups({ bus: deps.bus, family: "server" });
  }

  /**
   * The server of the request id: created, or the existing one (resumed when PROVISIONING), then
   * waited for up to `wait_timeout`, never past the caller's own deadline (less a margin to answer
   * in): a caller gets the server as it is, or an error it can retry (UNAVAILABLE while a backend is
   * down), never its deadline.
   */
  async createServer(req: Parameters<Impl["createServer"]>[0], ctx: HandlerContext) {
    const waitMs = ms(req.waitTimeout) ?? 0;
    const budget = ctx.timeoutMs();
    const waitForMs = Math.min(
      waitMs,
      budget === undefined ? waitMs : Math.max(0, budget - answerMarginMs),
    );
    const deadline = this.now().getTime() + waitForMs;
    const made = await this.deps.orchestrator.create(
      {
        requestId: req.requestId,
        owner: req.owner,
        nodeId: req.nodeId || undefined,
        labels: req.labels,
        settings: settingsFromProto(req.settings),
        idleTtlMs: ms(req.idleTtl),
        sessionId: req.sessionId || undefined,
      },
      actorOf(ctx),
      { signal: ctx.signal, retryUntil: deadline },
    );
    const serverId = made.id;
    const provisioning = (s: ServerRecord) => s.state === "PROVISIONING";
    // A create that stored the server READY (a warm hand-out, a start that answered READY)
    // answers from that write: reading it again would only add a round trip.
    const server =
      made.record !== undefined && !provisioning(made.record)
        ? made.record
        : await this.wakeups.waitUntil(
            serverId,
            () => this.deps.servers.get(serverId, { signal: ctx.signal }),
            provisioning,
            { timeoutMs: waitForMs, signal: ctx.signal, clock: this.now },
          );
    return create(CreateServerResponseSchema, { server: serverToProto(server) });
  }

  async getServer(req: Parameters<Impl["getServer"]>[0], ctx: HandlerContext) {
    const s = await this.deps.servers.get(req.serverId, { signal: ctx.signal });
    const server = serverToProto(s);
    if (s.state === "READY" || s.state === "DRAINING") {
      server.usage = await this.deps.usage?.(s.host, s.id);
    }
    return create(GetServerResponseSchema, { server });
  }

  async listServers(req: Parameters<Impl["listServers"]>[0], ctx: HandlerContext) {
    const lastEventId = await this.deps.bus.lastEventId("server", { signal: ctx.signal });
    const states = req.states.map((s) => serverStateFromProto[s]).filter((s) => s !== undefined);
    const page = await this.deps.servers.list(
      { states, nodeId: req.nodeId, owner: req.owner, labels: req.labels },
      { pageSize: req.pageSize, pageToken: req.pageToken, signal: ctx.signal },
    );
    return create(ListServersResponseSchema, {
      servers: page.items.map(serverToProto),
      nextPageToken: page.nextPageToken,
      lastEventId,
    });
  }

  async deleteServer(req: Parameters<Impl["deleteServer"]>[0], ctx: HandlerContext) {
    const s = await this.deps.orchestrator.delete(
      req.serverId,
      { force: req.force, graceMs: ms(req.gracePeriod) ?? this.deps.defaultDeleteGraceMs },
      actorOf(ctx),
    );
    return create(DeleteServerResponseSchema, { server: serverToProto(s) });
  }

  async *watchServers(req: Parameters<Impl["watchServers"]>[0], ctx: HandlerContext) {
    const stop = this.deps.shutdownSignal();
    const signal = stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal;
    const events = this.deps.bus.subscribe("server", {
      after: req.afterEventId || undefined,
      signal,
    }) as AsyncIterable<BusEvent<{ server: unknown; previousState?: string }>>;
    for await (const e of events) {
      const server = reviveServer(e.data.server);
      if (req.serverId && server.id !== req.serverId) continue;
      if (req.nodeId && server.nodeId !== req.nodeId) continue;
      if (req.owner && server.owner !== req.owner) continue;
      yield create(WatchServersResponseSchema, {
        eventId: e.id,
        type: e.type === "server.created" ? ServerEventType.CREATED : ServerEventType.STATE_CHANGED,
        eventTime: timestampFromDate(e.time),
        server: serverToProto(server),
        previousState: e.data.previousState
          ? serverStateToProto[e.data.previousState as keyof typeof serverStateToProto]
          : undefined,
      });
    }
  }

  async listNodes(req: Parameters<Impl["listNodes"]>[0], ctx: HandlerContext) {
    let views = await this.deps.orchestrator.nodeViews(ctx.signal);
    if (req.health === NodeHealth.HEALTHY) views = views.filter((v) => v.healthy);
    if (req.health === NodeHealth.UNHEALTHY) views = views.filter((v) => !v.healthy);
    if (req.draining !== undefined) views = views.filter((v) => v.node.draining === req.draining);
    const page = pageOfNodes(views, (v) => v.node.id, req.pageSize, req.pageToken);
    return create(ListNodesResponseSchema, {
      nodes: page.items.map(nodeToProto),
      nextPageToken: page.nextPageToken,
    });
  }

  async drainNode(req: Parameters<Impl["drainNode"]>[0], ctx: HandlerContext) {
    return create(DrainNodeResponseSchema, { node: await this.setDraining(req.nodeId, true, ctx) });
  }

  async undrainNode(req: Parameters<Impl["undrainNode"]>[0], ctx: HandlerContext) {
    return create(UndrainNodeResponseSchema, {
      node: await this.setDraining(req.nodeId, false, ctx),
    });
  }

  private async setDraining(nodeId: string, draining: boolean, ctx: HandlerContext) {
    const next = await this.deps.nodeRepo.setDraining(nodeId, draining, { signal: ctx.signal });
    const view = (await this.deps.orchestrator.nodeViews(ctx.signal)).find(
      (v) => v.node.id === nodeId,
    );
    return nodeToProto(view ?? nodeHealth(next, 0, this.now()));
  }

  async registerNode(req: Parameters<Impl["registerNode"]>[0], ctx: HandlerContext) {
    const { node, ttlMs } = await this.deps.nodeRepo.register(
      registrationFromProto(req),
      this.now(),
      { signal: ctx.signal, maxNodes: this.deps.maxNodes },
    );
    const view = (await this.deps.orchestrator.nodeViews(ctx.signal)).find(
      (v) => v.node.id === node.id,
    );
    return create(RegisterNodeResponseSchema, {
      node: nodeToProto(view ?? nodeHealth(node, 0, this.now())),
      leaseExpireTime: timestampFromDate(new Date(this.now().getTime() + ttlMs)),
      heartbeatInterval: durationFromMs(Math.max(1000, Math.floor(ttlMs / 3))),
    });
  }

  async getPortPool(req: Parameters<Impl["getPortPool"]>[0], ctx: HandlerContext) {
    const n = await this.deps.nodeRepo.find(req.nodeId, { signal: ctx.signal });
    if (n === undefined) throw new NodeNotFoundError(req.nodeId);
    const held = await this.deps.ports.list(n.id, { signal: ctx.signal });
    const allocations = [...held.entries()]
      .sort(([a], [b]) => a - b)
      .map(([port, owner]) => {
        const { serverId, at } = parseClaimOwner(owner);
        return create(PortAllocationSchema, {
          port,
          serverId,
          allocateTime: at > 0 ? timestampFromDate(new Date(at)) : undefined,
        });
      });
    if ((n.rdpDoorPort ?? 0) > 0) {
      // Servers behind a front door take no port: the node has no pool, only the claims (if any)
      // of servers placed before it had a door, held until they end.
      return create(GetPortPoolResponseSchema, {
        portPool: create(PortPoolSchema, { nodeId: n.id, allocations, freeCount: 0 }),
      });
    }
    const inRange = allocations.filter(
      (a) => a.port >= n.portRangeStart && a.port <= n.portRangeEnd,
    ).length;
    return create(GetPortPoolResponseSchema, {
      portPool: create(PortPoolSchema, {
        nodeId: n.id,
        range: create(PortRangeSchema, { start: n.portRangeStart, end: n.portRangeEnd }),
        allocations,
        freeCount: n.portRangeEnd - n.portRangeStart + 1 - inRange,
      }),
    });
  }
}
