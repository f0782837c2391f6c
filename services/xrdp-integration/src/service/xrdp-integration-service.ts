/**
 * The XrdpIntegrationService handlers: contract messages in, domain calls, contract messages out.
 */
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  GetHostInfoResponseSchema,
  GetInstanceResponseSchema,
  HostInfoSchema,
  InstanceEventType,
  ListConnectionsResponseSchema,
  ListInstancesResponseSchema,
  StartInstanceResponseSchema,
  StopInstanceResponseSchema,
  WatchInstancesResponseSchema,
  type XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { durationMs, type HealthMonitor } from "@lucid-rdp/runtime";
import { type BusEvent, type EventBus, InvalidPageTokenError } from "@lucid-rdp/storage";
import { ShuttingDownError } from "../domain/instance-errors.js";
import type { ObservedConnection } from "../domain/observed-connection.js";
import type { DoorConnection } from "../door/index.js";
import type { InstanceRecord } from "../store/records.js";
import type { ConnectionWatcher } from "../supervisor/connection-watcher.js";
import type { InstanceReader } from "../supervisor/instance-records.js";
import type { InstanceSupervisor } from "../supervisor/instance-supervisor.js";
import {
  connectionToProto,
  instanceStateFromProto,
  instanceStateToProto,
  instanceToProto,
  reviveInstance,
  settingsFromProto,
} from "./mappers.js";

export interface XrdpIntegrationDeps {
  readonly supervisor: InstanceSupervisor;
  /** The instance records, read-only (the supervisor's repository). */
  readonly instances: InstanceReader;
  readonly bus: EventBus;
  readonly connections: ConnectionWatcher;
  readonly health: () => HealthMonitor | undefined;
  readonly nodeId: string;
  readonly xrdpBin?: string;
  readonly xrdpVersion?: string;
  readonly maxInstances: number;
  readonly startTime: Date;
  readonly serviceVersion: string;
  /** Aborted when the service shuts down: Watch streams end on it. */
  readonly shutdownSignal: () => AbortSignal | undefined;
  /**
   * The RDP front door (RDP_DOOR=on): the routing token StartInstance answers for an instance
   * (and routes from then on), and the door's port. Absent: no door.
   */
  readonly door?: {
    readonly routingToken: (r: InstanceRecord) => string | undefined;
    readonly port: () => number;
    /** The connections the door relays now (client, bytes). */
    readonly connections: () => readonly DoorConnection[];
  };
}

const eventTypes: Record<string, InstanceEventType> = {
  "instance.created": InstanceEventType.CREATED,
  "instance.state_changed": InstanceEventType.STATE_CHANGED,
  "instance.connection_opened": InstanceEventType.CONNECTION_OPENED,
  "instance.connection_closed": InstanceEventType.CONNECTION_CLOSED,
  "instance.login_succeeded": InstanceEventType.LOGIN_SUCCEEDED,
  "instance.login_refused": InstanceEventType.LOGIN_REFUSED,
};

export class XrdpIntegrationHandler implements ServiceImpl<typeof XrdpIntegrationService> {
  constructor(private readonly deps: XrdpIntegrationDeps) {}

  async startInstance(
    req: Parameters<ServiceImpl<typeof XrdpIntegrationService>["startInstance"]>[0],
    ctx: HandlerContext,
  ) {
    const settings = settingsFromProto(req.settings);
    // Once shutdown begins no call is answered OK: the instance may be stopped at any moment. The
    // caller retries with the same request id, which the next life answers.
    const stop = this.deps.shutdownSignal();
    const signal = stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal;
    let record: InstanceRecord;
    try {
      const started = await this.deps.supervisor.start({
        requestId: req.requestId,
        serverId: req.serverId,
        owner: req.owner,
        port: req.port,
        settings,
      });
      const waitMs = durationMs(req.waitTimeout) ?? 0;
      const settling = started.state === "STARTING" || started.state === "RESTARTING";
      record =
        // A warm hand-out or a retry answers at once, from the record just written or read.
        !settling
          ? started
          : waitMs > 0
            ? await this.deps.supervisor.waitSettled(started.id, waitMs, signal)
            : await this.deps.instances.get(started.id, { signal });
    } catch (e) {
      if (stop?.aborted) throw new ShuttingDownError();
      throw e;
    }
    if (stop?.aborted) throw new ShuttingDownError();
    const instance = instanceToProto(
      record,
      this.deps.connections.countFor(record.id),
      this.deps.connections.activeDisplays(record.id),
    );
    const door = this.deps.door;
    if (door !== undefined) {
      // Routed from this moment, before the token leaves the service.
      instance.routingToken = door.routingToken(record) ?? "";
      instance.listenPort = record.port;
    }
    return create(StartInstanceResponseSchema, { instance });
  }

  async stopInstance(
    req: Parameters<ServiceImpl<typeof XrdpIntegrationService>["stopInstance"]>[0],
  ) {
    const graceMs = durationMs(req.gracePeriod);
    const record = await this.deps.supervisor.stop(req.instanceId, { graceMs, force: req.force });
    return create(StopInstanceResponseSchema, {
      instance: instanceToProto(
        record,
        this.deps.connections.countFor(record.id),
        this.deps.connections.activeDisplays(record.id),
      ),
    });
  }

  async getInstance(
    req: Parameters<ServiceImpl<typeof XrdpIntegrationService>["getInstance"]>[0],
    ctx: HandlerContext,
  ) {
    const record = await this.deps.instances.get(req.instanceId, { signal: ctx.signal });
    return create(GetInstanceResponseSchema, {
      instance: instanceToProto(
        record,
        this.deps.connections.countFor(record.id),
        this.deps.connections.activeDisplays(record.id),
      ),
    });
  }

  async listInstances(
    req: Parameters<ServiceImpl<typeof XrdpIntegrationService>["listInstances"]>[0],
    ctx: HandlerContext,
  ) {
    const lastEventId = await this.deps.bus.lastEventId("instance", { signal: ctx.signal });
    const states = req.states.map((s) => instanceStateFromProto[s]).filter((s) => s !== undefined);
    const page = await this.deps.instances.list({
      states,
      serverId: req.serverId !== "" ? req.serverId : undefined,
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      signal: ctx.signal,
    });
    return create(ListInstancesResponseSchema, {
      instances: page.items.map((r) =>
        instanceToProto(
          r,
          this.deps.connections.countFor(r.id),
          this.deps.connections.activeDisplays(r.id),
        ),
      ),
      nextPageToken: page.nextPageToken,
      lastEventId,
    });
  }

  async *watchInstances(
    req: Parameters<ServiceImpl<typeof XrdpIntegrationService>["watchInstances"]>[0],
    ctx: HandlerContext,
  ) {
    const stop = this.deps.shutdownSignal();
    const signal = stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal;
    const events = this.deps.bus.subscribe("instance", {
      after: req.afterEventId === "" ? undefined : req.afterEventId,
      signal,
    });
    for await (const e of events as AsyncIterable<
      BusEvent<{ instance?: unknown; previousState?: string; connection?: ObservedConnection }>
    >) {
      const type = eventTypes[e.type];
      if (type === undefined || e.data.instance === undefined) continue;
      const instance = reviveInstance(e.data.instance);
      if (req.instanceId !== "" && instance.id !== req.instanceId) continue;
      if (req.serverId !== "" && instance.serverId !== req.serverId) continue;
      const conn = e.data.connection;
      yield create(WatchInstancesResponseSchema, {
        eventId: e.id,
        type,
        eventTime: timestampFromDate(e.time),
        instance: instanceToProto(
          instance,
          this.deps.connections.countFor(instance.id),
          this.deps.connections.activeDisplays(instance.id),
        ),
        previousState: e.data.previousState
          ? instanceStateToProto[e.data.previousState as keyof typeof instanceStateToProto]
          : undefined,
        connection: conn
          ? connectionToProto({ ...conn, establishTime: new Date(conn.establishTime) })
          : undefined,
      });
    }
  }

  async getHostInfo() {
    const health = this.deps.health();
    const report = health?.report();
    const available = this.deps.supervisor.availability();
    const capacity = await this.deps.supervisor.desktopCapacity();
    const desktops = await this.deps.supervisor.desktopAvailability();
    const liveCount = await this.deps.supervisor.liveCount();
    const pool = this.deps.supervisor.pool.status();
    const failing = Object.entries(report?.checks ?? {})
      .filter(([, c]) => !c.ok)
      .map(([name, c]) => `${name}: ${c.error ?? "failing"}`);
    return create(GetHostInfoResponseSchema, {
      hostInfo: create(HostInfoSchema, {
        hostname: hostname(),
        nodeId: this.deps.nodeId,
        xrdpVersion: this.deps.xrdpVersion ?? "",
        xrdpBin: this.deps.xrdpBin ?? "",
        serving: report?.status === "SERVING",
        statusMessage: available.ok
          ? failing.join("; ")
          : [available.reason, ...failing.filter((f) => !f.startsWith("xrdp:"))].join("; "),
        maxInstances: this.deps.maxInstances,
        instanceCount: liveCount,
        connectionCount: this.deps.connections.list().length,
        serviceVersion: this.deps.serviceVersion,
        startTime: timestampFromDate(this.deps.startTime),
        ownsDesktops: this.deps.supervisor.ownsDesktops(),
        displayRangeFirst: capacity.range.first,
        displayRangeLast: capacity.range.last,
        displaysFree: capacity.free,
        desktopCapacity: Math.min(
          capacity.instancesLeft,
          Math.max(0, this.deps.maxInstances - liveCount),
        ),
        desktopUnavailableReason: desktops.ok ? "" : desktops.reason,
        rdpDoorPort: this.deps.door?.port() ?? 0,
        warmPoolTarget: pool.target,
        warmPoolReady: pool.ready,
        warmPoolStarting: pool.starting,
      }),
    });
  }

  async listConnections(
    req: Parameters<ServiceImpl<typeof XrdpIntegrationService>["listConnections"]>[0],
  ) {
    const all = this.deps.connections.list({
      instanceId: req.instanceId || undefined,
      serverId: req.serverId || undefined,
    });
    const size = req.pageSize > 0 ? Math.min(req.pageSize, 1000) : 50;
    const offset = req.pageToken === "" ? 0 : decodeOffset(req.pageToken);
    const page = all.slice(offset, offset + size);
    // Behind the door, the bytes it relayed for each client.
    const relayed = new Map(
      (this.deps.door?.connections() ?? []).map((c) => [`${c.peer.address}|${c.peer.port}`, c]),
    );
    return create(ListConnectionsResponseSchema, {
      connections: page.map((c) => {
        const proto = connectionToProto(c);
        const d = relayed.get(`${c.peer.address}|${c.peer.port}`);
        if (d !== undefined) {
          proto.bytesFromClient = BigInt(d.bytesFromClient);
          proto.bytesToClient = BigInt(d.bytesToClient);
        }
        return proto;
      }),
      nextPageToken:
        offset + size < all.length ? Buffer.from(String(offset + size)).toString("base64url") : "",
    });
  }
}

/** A ListConnections page token is the offset of the next page, base64url. */
function decodeOffset(token: string): number {
  const text = Buffer.from(token, "base64url").toString();
  if (!/^[0-9]{1,9}$/.test(text)) throw new InvalidPageTokenError("connections");
  return Number(text);
}
