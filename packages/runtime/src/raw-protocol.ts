/**
 * A protocol other than HTTP served on the service's one port, told apart by the first byte a
 * client sends (xrdp-integration's RDP front door: a TPKT starts with 0x03). The runtime only
 * routes the socket; the handler owns it from then on.
 */
import type { Socket } from "node:net";

/** A non-HTTP protocol on the one port, chosen by the connection's first byte. */
export interface RawProtocol {
  /** For logs and errors, e.g. "rdp". */
  readonly name: string;
  /**
   * The first byte that selects this protocol. It must not be able to start what the port already
   * serves: a TLS record (0x16), the HTTP/2 preface or an HTTP/1 method (any token character,
   * RFC 9110 section 5.6.2), so a control byte such as 0x03.
   */
  readonly firstByte: number;
  /**
   * Takes the socket, paused, with every byte read so far put back (`unshift`). From then on the
   * handler owns it: its timeouts and its end. The runtime still counts it against
   * MAX_CONNECTIONS and does not destroy it at shutdown (the service closes it, in onShutdown).
   */
  handle(socket: Socket): void;
}

/** The first byte of a TLS handshake record. */
export const tlsHandshakeByte = 0x16;

/** RFC 9110 tchar: the bytes an HTTP method (a token) may hold, so may start with. */
const tokenChars = new Set(
  Buffer.from("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
);

/**
 * Throws (a programming error, at startServer) when a raw protocol's first byte is not a byte, is
 * claimed twice, or could start a TLS record, the HTTP/2 preface or an HTTP/1 request.
 */
export function checkRawProtocols(protocols: readonly RawProtocol[]): void {
  const seen = new Map<number, string>();
  for (const p of protocols) {
    const b = p.firstByte;
    const hex = Number.isInteger(b) ? `0x${b.toString(16).padStart(2, "0")}` : String(b);
    if (!Number.isInteger(b) || b < 0 || b > 255) {
      throw new Error(`raw protocol ${p.name}: firstByte ${b} is not a byte`);
    }
    if (b === tlsHandshakeByte || tokenChars.has(b)) {
      throw new Error(
        `raw protocol ${p.name}: firstByte ${hex} can start a TLS record or an HTTP request`,
      );
    }
    const other = seen.get(b);
    if (other !== undefined) {
      throw new Error(`raw protocols ${other} and ${p.name} both claim firstByte ${hex}`);
    }
    seen.set(b, p.name);
  }
}
