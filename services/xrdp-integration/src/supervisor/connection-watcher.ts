/**
 * Watches the logged-in connections of every live instance: established TCP connections to its
 * port, read from /proc/net/tcp and /proc/net/tcp6 (no subprocesses), over which xrdp's log says
 * the owner logged in to a desktop. A connection at xrdp's login screen is not a session's user
 * yet, so it is neither listed nor reported; a refused login is reported as such.
 *
 * Each logged-in connection that appears or goes becomes an event on the bus
 * (instance.login_succeeded then instance.connection_opened; instance.connection_closed) and, when
 * the instance serves a server, a ReportConnectionEvent to session-controller (CONNECTED,
 * DISCONNECTED, LOGIN_REFUSED).
 *
 * xrdp's child for a connection logs `TLS connection established from <peer>` and then the login
 * with its pid (EnableProcessId), which ties the login to the peer. With the `rdp` security layer
 * there is no TLS line, and logins are not tied to connections (the floor refuses that layer
 * unless XRDP_ALLOW_RDP_SECURITY is set).
 */
import { randomUUID } from "node:crypto";
import { type Clock, type Logger, systemClock } from "@lucid-rdp/runtime";
import type { EventBus } from "@lucid-rdp/storage";
import type { ConnectionChange, ObservedConnection } from "../domain/observed-connection.js";
import { normalizePeerAddress, type XrdpLogEvent } from "../domain/xrdp-log.js";
import { establishedTo } from "../host/established-to.js";
import { isOwnProbePort } from "../host/rdp-probe.js";
import type { InstanceRecord } from "../store/records.js";
import type { InstanceRecords } from "./instance-records.js";
import { LoginLog } from "./login-log.js";

export type { ObservedConnection } from "../domain/observed-connection.js";

/** What a connection change is reported to (session-controller's ReportConnectionEvent). */
export type ConnectionReporter = (event: ConnectionChange) => Promise<void>;

export interface ConnectionWatcherOptions {
  /** Where the live instances, whose ports are watched, are read. */
  readonly instances: Pick<InstanceRecords, "listLive">;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly report?: ConnectionReporter;
  /** Reads new login facts of an instance's xrdp log; the default follows the log file. */
  readonly readLog?: (instance: InstanceRecord) => XrdpLogEvent[];
  /** Reads established peers per local port; the default reads /proc. */
  readonly read?: (
    ports: ReadonlySet<number>,
  ) => Promise<Map<number, { address: string; port: number }[]>>;
  /** The wall time logins are stamped with. @default systemClock */
  readonly clock?: Clock;
  /**
   * The client behind a loopback peer: with the front door, xrdp sees every client as the door's
   * upstream socket (127.0.0.1:<port>), and the door knows whose it is. @default none
   */
  readonly peerOf?: (peer: {
    address: string;
    port: number;
  }) => { address: string; port: number } | undefined;
}

const keyOf = (c: { localPort: number; peer: { address: string; port: number } }) =>
  `${c.localPort}|${c.peer.address}|${c.peer.port}`;

/** What the log told about an instance's connections so far. */
interface LoginState {
  /** Peer of each xrdp child pid (its TLS line). */
  readonly peers: Map<number, { address: string; port: number }>;
  /** Logged-in peers (keyOf), with the display of their desktop. */
  readonly loggedIn: Map<string, number>;
}

export class ConnectionWatcher {
  private current = new Map<string, ObservedConnection>();
  private readonly logins = new Map<string, LoginState>();
  private readonly loginLog = new LoginLog();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: Clock;

  constructor(private readonly opts: ConnectionWatcherOptions) {
    this.now = opts.clock ?? systemClock;
  }

  start(): void {
    this.timer = setInterval(() => this.observeNow(), this.opts.pollMs);
    this.timer.unref();
  }

  /**
   * Polls now unless a poll runs (the front door calls it when a relayed connection closes, so a
   * disconnect is reported without waiting for the interval). Only once start() ran.
   */
  observeNow(): void {
    if (this.timer === undefined) return;
    this.running ??= this.poll()
      .catch((e: unknown) => this.opts.logger.warn({ err: e }, "connection poll failed"))
      .finally(() => {
        this.running = undefined;
      });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
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

  /** The real client of `peer` (through the door), or `peer` itself. */
  private clientOf(peer: { address: string; port: number }): { address: string; port: number } {
    if (this.opts.peerOf === undefined || !isLoopback(peer.address)) return peer;
    return this.opts.peerOf(peer) ?? peer;
  }

  countFor(instanceId: string): number {
    let n = 0;
    for (const c of this.current.values()) if (c.instanceId === instanceId) n++;
    return n;
  }

  /** One observation: diff against the last one, publish and report every change. */
  async poll(): Promise<void> {
    const live = await this.opts.instances.listLive();
    const byPort = new Map(live.map((r) => [r.port, r]));
    const liveIds = new Set(live.map((r) => r.id));
    for (const id of this.logins.keys()) if (!liveIds.has(id)) this.logins.delete(id);
    this.loginLog.retain(liveIds);
    const readLog = this.opts.readLog ?? ((r: InstanceRecord) => this.loginLog.read(r));
    const refused: ObservedConnection[] = [];
    for (const inst of live) {
      const events = readLog(inst);
      if (events.length === 0) continue;
      let state = this.logins.get(inst.id);
      if (state === undefined) {
        state = { peers: new Map(), loggedIn: new Map() };
        this.logins.set(inst.id, state);
      }
      for (const e of events) {
        if (e.kind === "peer") {
          state.peers.set(e.pid, e.peer);
          // Bounded: one entry per connection the instance ever had, trimmed to the newest.
          if (state.peers.size > 1000) {
            const oldest = state.peers.keys().next().value;
            if (oldest !== undefined) state.peers.delete(oldest);
          }
          continue;
        }
        const peer = state.peers.get(e.pid);
        if (e.kind === "login") {
          if (peer)
            state.loggedIn.set(keyOf({ localPort: inst.port, peer: norm(peer) }), e.display);
        } else {
          refused.push({
            instanceId: inst.id,
            serverId: inst.serverId,
            localPort: inst.port,
            peer: peer ? this.clientOf(norm(peer)) : { address: "0.0.0.0", port: 0 },
            establishTime: this.now(),
          });
        }
      }
    }
    const read = this.opts.read ?? ((ports) => establishedTo(ports));
    const seen = await read(new Set(byPort.keys()));
    const next = new Map<string, ObservedConnection>();
    for (const [port, peers] of seen) {
      const inst = byPort.get(port);
      if (inst === undefined) continue;
      const state = this.logins.get(inst.id);
      const open = new Set<string>();
      for (const raw of peers) {
        // The service's own readiness and health probes are not clients.
        if (isLoopback(raw.address) && isOwnProbePort(raw.port)) continue;
        const peer = norm(raw);
        const k = keyOf({ localPort: port, peer });
        open.add(k);
        const display = state?.loggedIn.get(k);
        if (display === undefined) continue; // not logged in (yet)
        next.set(
          k,
          this.current.get(k) ?? {
            instanceId: inst.id,
            serverId: inst.serverId,
            localPort: port,
            peer: this.clientOf(peer),
            establishTime: this.now(),
            display,
          },
        );
      }
      // A logged-in connection that closed is forgotten (a reconnect logs in again).
      if (state) for (const k of state.loggedIn.keys()) if (!open.has(k)) state.loggedIn.delete(k);
    }
    const opened = [...next.entries()].filter(([k]) => !this.current.has(k)).map(([, c]) => c);
    const closed = [...this.current.entries()].filter(([k]) => !next.has(k)).map(([, c]) => c);
    this.current = next;
    for (const c of refused) await this.emit("LOGIN_REFUSED", c, byPort.get(c.localPort));
    for (const c of opened) await this.emit("CONNECTED", c, byPort.get(c.localPort));
    for (const c of closed) await this.emit("DISCONNECTED", c, byPort.get(c.localPort));
  }

  /** The displays with a logged-in connection, per instance. */
  activeDisplays(instanceId: string): number[] {
    const out = new Set<number>();
    for (const c of this.current.values()) {
      if (c.instanceId === instanceId && c.display !== undefined) out.add(c.display);
    }
    return [...out].sort((a, b) => a - b);
  }

  private async emit(
    type: "CONNECTED" | "DISCONNECTED" | "LOGIN_REFUSED",
    connection: ObservedConnection,
    instance: InstanceRecord | undefined,
  ): Promise<void> {
    const connectionCount = this.countFor(connection.instanceId);
    const log = { instance: connection.instanceId, peer: connection.peer, type, connectionCount };
    if (type === "LOGIN_REFUSED") {
      this.opts.logger.warn(
        { ...log, owner: instance?.owner },
        "desktop login refused: only the instance's owner may log in, with its password",
      );
    } else {
      this.opts.logger.info(log, "connection change");
    }
    try {
      const types = {
        CONNECTED: ["instance.login_succeeded", "instance.connection_opened"],
        DISCONNECTED: ["instance.connection_closed"],
        LOGIN_REFUSED: ["instance.login_refused"],
      } as const;
      for (const t of types[type]) {
        await this.opts.bus.publish({
          type: t,
          subject: connection.instanceId,
          data: { instance, connection },
        });
      }
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

function norm(p: { address: string; port: number }): { address: string; port: number } {
  return { address: normalizePeerAddress(p.address), port: p.port };
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}
