/**
 * Watches established TCP connections to every live instance's port, read from /proc/net/tcp and
 * /proc/net/tcp6 (no subprocesses). Each connection that appears or goes becomes an event on the
 * bus (instance.connection_opened / instance.connection_closed, with the peer address) and, when
 * the instance serves a server, a ReportConnectionEvent to session-controller.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "@lucid-rdp/runtime";
import type { EventBus, InstanceRecord, InstanceStore } from "@lucid-rdp/storage";
import { liveInstanceStates } from "@lucid-rdp/storage";
import { establishedTo } from "../host/net-tcp.js";
import { isOwnProbePort } from "../host/rdp-probe.js";

export interface ObservedConnection {
  readonly instanceId: string;
  readonly serverId: string;
  readonly localPort: number;
  readonly peer: { readonly address: string; readonly port: number };
  readonly establishTime: Date;
}

/** What a connection change is reported to (session-controller's ReportConnectionEvent). */
export type ConnectionReporter = (event: {
  readonly requestId: string;
  readonly type: "CONNECTED" | "DISCONNECTED";
  readonly connection: ObservedConnection;
  /** Connections to the instance after this change. */
  readonly connectionCount: number;
}) => Promise<void>;

export interface ConnectionWatcherOptions {
  readonly store: InstanceStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly report?: ConnectionReporter;
  /** Reads established peers per local port; the default reads /proc. */
  readonly read?: (
    ports: ReadonlySet<number>,
  ) => Promise<Map<number, { address: string; port: number }[]>>;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

const keyOf = (c: { localPort: number; peer: { address: string; port: number } }) =>
  `${c.localPort}|${c.peer.address}|${c.peer.port}`;

export class ConnectionWatcher {
  private current = new Map<string, ObservedConnection>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => Date;

  constructor(private readonly opts: ConnectionWatcherOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.poll()
        .catch((e: unknown) => this.opts.logger.warn({ err: e }, "connection poll failed"))
        .finally(() => {
          this.running = undefined;
        });
    }, this.opts.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Connections seen at the last poll, optionally of one instance or server. */
  list(filter: { instanceId?: string; serverId?: string } = {}): ObservedConnection[] {
    return [...this.current.values()]
      .filter((c) => !filter.instanceId || c.instanceId === filter.instanceId)
      .filter((c) => !filter.serverId || c.serverId === filter.serverId)
      .sort(
        (a, b) =>
          a.establishTime.getTime() - b.establishTime.getTime() || keyOf(a).localeCompare(keyOf(b)),
      );
  }

  countFor(instanceId: string): number {
    let n = 0;
    for (const c of this.current.values()) if (c.instanceId === instanceId) n++;
    return n;
  }

  /** One observation: diff against the last one, publish and report every change. */
  async poll(): Promise<void> {
    const live: InstanceRecord[] = [];
    let token = "";
    do {
      const page = await this.opts.store.list({
        where: { state: { in: [...liveInstanceStates] } },
        pageSize: 1000,
        pageToken: token,
      });
      live.push(...page.items);
      token = page.nextPageToken;
    } while (token !== "");
    const byPort = new Map(live.map((r) => [r.port, r]));
    const read = this.opts.read ?? ((ports) => establishedTo(ports));
    const seen = await read(new Set(byPort.keys()));
    const next = new Map<string, ObservedConnection>();
    for (const [port, peers] of seen) {
      const inst = byPort.get(port);
      if (inst === undefined) continue;
      for (const peer of peers) {
        // The service's own readiness and health probes are not clients.
        if (isLoopback(peer.address) && isOwnProbePort(peer.port)) continue;
        const k = keyOf({ localPort: port, peer });
        next.set(
          k,
          this.current.get(k) ?? {
            instanceId: inst.id,
            serverId: inst.serverId,
            localPort: port,
            peer: { address: peer.address, port: peer.port },
            establishTime: this.now(),
          },
        );
      }
    }
    const opened = [...next.entries()].filter(([k]) => !this.current.has(k)).map(([, c]) => c);
    const closed = [...this.current.entries()].filter(([k]) => !next.has(k)).map(([, c]) => c);
    this.current = next;
    for (const c of opened) await this.emit("CONNECTED", c, byPort.get(c.localPort));
    for (const c of closed) await this.emit("DISCONNECTED", c, byPort.get(c.localPort));
  }

  private async emit(
    type: "CONNECTED" | "DISCONNECTED",
    connection: ObservedConnection,
    instance: InstanceRecord | undefined,
  ): Promise<void> {
    const connectionCount = this.countFor(connection.instanceId);
    this.opts.logger.info(
      { instance: connection.instanceId, peer: connection.peer, type, connectionCount },
      "connection change",
    );
    try {
      await this.opts.bus.publish({
        type: type === "CONNECTED" ? "instance.connection_opened" : "instance.connection_closed",
        subject: connection.instanceId,
        data: { instance, connection },
      });
    } catch (e) {
      this.opts.logger.warn({ err: e }, "connection event not published");
    }
    if (this.opts.report && connection.serverId !== "") {
      try {
        await this.opts.report({ requestId: randomUUID(), type, connection, connectionCount });
      } catch (e) {
        // session-controller repairs a missed report by polling ListConnections (issue 6).
        this.opts.logger.warn(
          { err: e, instance: connection.instanceId },
          "connection report failed",
        );
      }
    }
  }
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}
