/**
 * The node's RDP front door (docs/rdp-front-door.md): takes RDP connections from the service's one
 * port (a RawProtocol on 0x03), applies the connect limits per source, reads the client's first
 * packet, looks its routing token up and relays the connection to that instance's xrdp on
 * loopback, with the token stripped. Anything it will not route gets one RDP negotiation failure
 * and is closed; nothing reaches any xrdp. Pure networking: where a token leads is a callback.
 */
import { randomUUID } from "node:crypto";
import { connect, type Socket } from "node:net";
import { type Clock, type Logger, systemClock } from "@lucid-rdp/runtime";
import type { Counter, Registry } from "prom-client";
import {
  type ConnectionRequest,
  encodeNegotiationFailure,
  negotiationFailureCode,
  parseConnectionRequest,
  withoutRoutingToken,
} from "../domain/x224-connection-request.js";
import { createDoorMetrics, type DoorMetrics } from "./door-metrics.js";
import type {
  DoorConnection,
  DoorLookup,
  DoorPeer,
  DoorRefusal,
  DoorRefusalReason,
  RdpDoorOptions,
} from "./door-types.js";
import { relay } from "./relay.js";
import { routingTokenOf, tokenHash } from "./routing-token.js";
import { sourceKey } from "./source-key.js";
import { SourceLimiter } from "./source-limiter.js";

/** The first byte of an RDP connection (a TPKT): the door's RawProtocol byte. */
export const rdpFirstByte = 0x03;

/**
 * The one answer to every refused connection, whatever the reason, so that it tells a prober
 * nothing (FreeRDP logs SSL_CERT_NOT_ON_SERVER at ERROR, then retries twice).
 */
const refusalBytes = encodeNegotiationFailure(negotiationFailureCode.sslCertNotOnServer);

/** Idle time before TCP keepalive probes a relayed client. */
const clientKeepAliveMs = 30_000;

/** Closed connections whose upstream port is still remembered for peerOfUpstreamPort(). */
const recentlyClosedPorts = 256;

interface Relayed {
  readonly id: string;
  readonly instanceId: string;
  readonly serverId: string;
  readonly peer: DoorPeer;
  readonly upstreamLocalPort: number;
  readonly openTime: Date;
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes already added to lucid_rdp_door_bytes_total. */
  counted: { fromClient: number; toClient: number };
}

/** The RDP front door. `handle` is the RawProtocol handler; `close` ends it. */
export class RdpDoor {
  /** For startServer's rawProtocols: `{ name, firstByte, handle }`. */
  readonly name = "rdp";
  readonly firstByte = rdpFirstByte;

  readonly #opts: RdpDoorOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #upstreamHost: string;
  readonly #timeoutMs: number;
  readonly #limiter: SourceLimiter;
  /** Sockets not relayed yet: reading the first packet, connecting upstream or refused. */
  readonly #waiting = new Set<Socket>();
  readonly #relayed = new Map<string, Relayed>();
  /** Upstream local port -> client, for the relays open and the last few closed ones. */
  readonly #peers = new Map<number, DoorPeer>();
  #metrics: DoorMetrics | undefined;
  #closed = false;

  constructor(opts: RdpDoorOptions) {
    this.#opts = opts;
    this.#logger = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#upstreamHost = opts.upstreamHost ?? "127.0.0.1";
    const l = opts.limits ?? {};
    this.#timeoutMs = l.firstPacketTimeoutMs ?? 5_000;
    this.#limiter = new SourceLimiter(
      {
        ratePerMinute: l.ratePerMinute ?? 30,
        burst: l.burst ?? 10,
        maxPendingPerSource: l.maxPendingPerSource ?? 8,
        maxPending: l.maxPending ?? 256,
      },
      this.#clock,
    );
    this.handle = this.handle.bind(this);
  }

  /** Registers the door's metrics on `registry` (the service's /metrics). Call it once. */
  attachMetrics(registry: Registry): void {
    this.#metrics = createDoorMetrics(
      registry,
      () => this.#relayed.size,
      (bytes) => {
        for (const r of this.#relayed.values()) this.#countBytes(r, bytes);
      },
    );
  }

  /** The connections relayed now. */
  connections(): readonly DoorConnection[] {
    return [...this.#relayed.values()].map((r) => this.#snapshot(r));
  }

  /**
   * The client behind the door's upstream connection from `localPort` (xrdp logs every client as
   * 127.0.0.1 port <localPort>): open relays and the last few closed ones.
   */
  peerOfUpstreamPort(localPort: number): DoorPeer | undefined {
    return this.#peers.get(localPort);
  }

  /** Takes a new connection (paused, first bytes unshifted): the RawProtocol handler. */
  handle(socket: Socket): void {
    const peer: DoorPeer = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    socket.on("error", () => {}); // each stage below ends the socket; a reset needs no more
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const admission = this.#limiter.admit(sourceKey(peer.address));
    if (!admission.ok) {
      // Cut at once, unread and unanswered: a flood costs one accept each.
      socket.destroy();
      this.#count({ reason: "rate", peer }, admission.log ? "warn" : undefined);
      return;
    }
    // A FIN from the client must not end our side: a relay passes half-closes through.
    socket.allowHalfOpen = true;
    this.#waiting.add(socket);
    socket.once("close", () => {
      this.#waiting.delete(socket);
      admission.release();
    });
    let buffered: Buffer = Buffer.alloc(0);
    const stop = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      admission.release();
    };
    const timer = setTimeout(() => {
      stop();
      this.#refuse(socket, { reason: "timeout", peer });
    }, this.#timeoutMs);
    const onEnd = () => {
      stop();
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const parsed = parseConnectionRequest(buffered);
      if (parsed.kind === "need-more") return;
      stop();
      socket.pause();
      if (parsed.kind === "invalid") {
        this.#refuse(socket, { reason: "malformed", peer });
        return;
      }
      this.#route(socket, peer, parsed.request);
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.resume();
  }

  /**
   * Stops taking connections and destroys every connection it holds (relays on both sides);
   * resolves once they are all closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const sockets = [
      ...this.#waiting,
      ...[...this.#relayed.values()].flatMap((r) => [r.client, r.upstream]),
    ];
    const closed = sockets.map((s) =>
      s.closed ? Promise.resolve() : new Promise<void>((r) => s.once("close", () => r())),
    );
    for (const s of sockets) s.destroy();
    await Promise.all(closed);
  }

  /** Looks the request's token up and relays or refuses. */
  #route(client: Socket, peer: DoorPeer, request: ConnectionRequest): void {
    const token = routingTokenOf(request);
    if (token.kind === "missing") {
      this.#refuse(client, { reason: "missing", peer });
      return;
    }
    const hash = tokenHash(token.token);
    if (token.kind === "malformed") {
      this.#refuse(client, { reason: "malformed", peer, tokenHash: hash });
      return;
    }
    let found: DoorLookup | undefined;
    try {
      found = this.#opts.lookup(token.token);
    } catch (err) {
      // The owner's fault, not the client's: logged as an error, answered like an xrdp that
      // cannot be reached.
      this.#logger.error({ err, tokenHash: hash }, "rdp door lookup failed");
      this.#refuse(client, { reason: "upstream", peer, tokenHash: hash });
      return;
    }
    if (found === undefined) {
      this.#refuse(client, { reason: "unknown", peer, tokenHash: hash });
      return;
    }
    if (found.kind === "ended") {
      this.#refuse(client, {
        reason: "ended",
        peer,
        tokenHash: hash,
        instanceId: found.instanceId,
      });
      return;
    }
    const upstream = connect({
      host: this.#upstreamHost,
      port: found.port,
      noDelay: true,
      allowHalfOpen: true,
    });
    const refused = () => {
      clearTimeout(connectTimer);
      upstream.destroy();
      if (!client.destroyed) {
        this.#refuse(client, {
          reason: "upstream",
          peer,
          tokenHash: hash,
          instanceId: found.instanceId,
        });
      }
    };
    // A loopback connect answers at once; one that does not is the instance's fault.
    const connectTimer = setTimeout(refused, this.#timeoutMs);
    upstream.once("error", refused);
    const clientGone = () => {
      clearTimeout(connectTimer);
      upstream.destroy();
    };
    client.once("close", clientGone);
    upstream.once("connect", () => {
      clearTimeout(connectTimer);
      upstream.off("error", refused);
      client.off("close", clientGone);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.#waiting.delete(client);
      upstream.write(withoutRoutingToken(request));
      if (request.rest.length > 0) upstream.write(request.rest);
      this.#open(client, upstream, peer, found);
    });
  }

  /** Records a relay and starts it. */
  #open(
    client: Socket,
    upstream: Socket,
    peer: DoorPeer,
    route: { instanceId: string; serverId: string },
  ): void {
    const r: Relayed = {
      id: randomUUID(),
      instanceId: route.instanceId,
      serverId: route.serverId,
      peer,
      upstreamLocalPort: upstream.localPort ?? 0,
      openTime: this.#clock(),
      client,
      upstream,
      counted: { fromClient: 0, toClient: 0 },
    };
    // A client that vanishes without a FIN or a reset (a dropped network) would hold the relay and
    // its xrdp session as "connected" forever: TCP keepalive finds it.
    client.setKeepAlive(true, clientKeepAliveMs);
    this.#relayed.set(r.id, r);
    this.#peers.delete(r.upstreamLocalPort);
    this.#peers.set(r.upstreamLocalPort, peer);
    this.#metrics?.connections.inc();
    this.#logger.info(
      { connection: r.id, instanceId: r.instanceId, peer, upstreamLocalPort: r.upstreamLocalPort },
      "rdp door relaying",
    );
    this.#notify("onConnection", () =>
      this.#opts.onConnection?.({ type: "opened", connection: this.#snapshot(r) }),
    );
    relay(client, upstream, () => {
      this.#relayed.delete(r.id);
      if (this.#metrics !== undefined) this.#countBytes(r, this.#metrics.bytes);
      this.#forgetOldPeers();
      const connection = this.#snapshot(r);
      this.#logger.info(
        {
          connection: r.id,
          instanceId: r.instanceId,
          bytesFromClient: connection.bytesFromClient,
          bytesToClient: connection.bytesToClient,
        },
        "rdp door relay closed",
      );
      this.#notify("onConnection", () => this.#opts.onConnection?.({ type: "closed", connection }));
    });
  }

  #snapshot(r: Relayed): DoorConnection {
    return {
      id: r.id,
      instanceId: r.instanceId,
      serverId: r.serverId,
      peer: r.peer,
      upstreamLocalPort: r.upstreamLocalPort,
      openTime: r.openTime,
      bytesFromClient: r.client.bytesRead,
      bytesToClient: r.client.bytesWritten,
    };
  }

  /** Adds what `r` moved since it was last counted to the byte counter. */
  #countBytes(r: Relayed, bytes: Counter<"direction">): void {
    const fromClient = r.client.bytesRead;
    const toClient = r.client.bytesWritten;
    bytes.inc({ direction: "from_client" }, fromClient - r.counted.fromClient);
    bytes.inc({ direction: "to_client" }, toClient - r.counted.toClient);
    r.counted = { fromClient, toClient };
  }

  /** Keeps the port map to the open relays plus the last {@link recentlyClosedPorts} closed. */
  #forgetOldPeers(): void {
    const limit = this.#relayed.size + recentlyClosedPorts;
    const open = new Set([...this.#relayed.values()].map((r) => r.upstreamLocalPort));
    for (const port of this.#peers.keys()) {
      if (this.#peers.size <= limit) return;
      if (!open.has(port)) this.#peers.delete(port);
    }
  }

  /**
   * Answers with the negotiation failure and ends the connection: the client's FIN, or the
   * first-packet timeout, closes it. Whatever it still sends is read and dropped.
   */
  #refuse(socket: Socket, refusal: DoorRefusal): void {
    this.#count(refusal, "info");
    if (socket.destroyed) return;
    const linger = setTimeout(() => socket.destroy(), this.#timeoutMs);
    socket.once("close", () => clearTimeout(linger));
    socket.on("data", () => {});
    socket.on("end", () => socket.destroy());
    socket.end(refusalBytes);
    socket.resume();
  }

  /** Counts, reports and (at `level`) logs a refusal; never the token. */
  #count(refusal: DoorRefusal, level: "info" | "warn" | undefined): void {
    this.#metrics?.refused.inc({ reason: refusal.reason satisfies DoorRefusalReason });
    if (level !== undefined) {
      this.#logger[level](
        {
          peer: refusal.peer,
          reason: refusal.reason,
          tokenHash: refusal.tokenHash,
          instanceId: refusal.instanceId,
        },
        refusal.reason === "rate"
          ? "rdp door refused a connection over its source's limits (logged once a minute per source)"
          : "rdp door refused a connection",
      );
    }
    this.#notify("onRefused", () => this.#opts.onRefused?.(refusal));
  }

  /** Calls an owner's callback; one that throws is logged and does not break the door. */
  #notify(name: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#logger.error({ err, callback: name }, "rdp door callback failed");
    }
  }
}
