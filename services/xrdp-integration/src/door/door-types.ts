/** The types of the RDP front door's interface (rdp-door.ts): what it asks and what it reports. */
import type { Clock, Logger } from "@lucid-rdp/runtime";

/** What a routing token leads to, as the door's owner knows it. */
export type DoorLookup =
  /** Relay to the instance's xrdp, listening on `upstreamHost`:`port`. */
  | {
      readonly kind: "route";
      readonly instanceId: string;
      readonly serverId: string;
      readonly port: number;
    }
  /** The token of an instance that has ended: refused as "ended". */
  | { readonly kind: "ended"; readonly instanceId: string };

/** A client's address and port as the door's port saw it. */
export interface DoorPeer {
  readonly address: string;
  readonly port: number;
}

/** One connection the door relays (a snapshot: the byte counts are those of the moment). */
export interface DoorConnection {
  readonly id: string;
  readonly instanceId: string;
  readonly serverId: string;
  /** The client, as it connected to the door. */
  readonly peer: DoorPeer;
  /** The local port of the door's connection to xrdp: xrdp sees the client as 127.0.0.1:<this>. */
  readonly upstreamLocalPort: number;
  readonly openTime: Date;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
}

/** Why the door refused a connection. */
export type DoorRefusalReason =
  | "missing"
  | "unknown"
  | "ended"
  | "malformed"
  | "timeout"
  | "rate"
  | "upstream";

/** One refused connection, as reported to `onRefused` (never the token itself). */
export interface DoorRefusal {
  readonly reason: DoorRefusalReason;
  readonly peer: DoorPeer;
  /** The first 12 hex digits of the token's SHA-256, when there was a token. */
  readonly tokenHash?: string;
  /** The instance the token named ("ended", "upstream"). */
  readonly instanceId?: string;
}

/** The door's limits; each has a default. */
export interface DoorLimits {
  /** Connection attempts per source (IPv4 address, IPv6 /64) per minute. @default 30 */
  readonly ratePerMinute?: number;
  /** Attempts a source may make at once before the rate applies. @default 10 */
  readonly burst?: number;
  /** Connections of one source still sending their first packet. @default 8 */
  readonly maxPendingPerSource?: number;
  /** Connections of all sources still sending their first packet. @default 256 */
  readonly maxPending?: number;
  /** How long a client may take to send its whole first packet. @default 5000 */
  readonly firstPacketTimeoutMs?: number;
}

/** How an {@link RdpDoor} is built. */
export interface RdpDoorOptions {
  readonly logger: Logger;
  /** The route of a token (undefined: unknown). Called once per connection, synchronously. */
  lookup(token: string): DoorLookup | undefined;
  /** Called for each refused connection (e.g. to publish an audit event). @default none */
  onRefused?(refusal: DoorRefusal): void;
  /** Called when a relayed connection opens and when it closes. @default none */
  onConnection?(event: {
    readonly type: "opened" | "closed";
    readonly connection: DoorConnection;
  }): void;
  /** @default see {@link DoorLimits} */
  readonly limits?: DoorLimits;
  /** Where the instances' xrdp listen. @default "127.0.0.1" */
  readonly upstreamHost?: string;
  /** @default systemClock */
  readonly clock?: Clock;
}
