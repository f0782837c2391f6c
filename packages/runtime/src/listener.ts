/**
 * One port for every client. Plaintext: HTTP/2 with prior knowledge (gRPC, grpcurl -plaintext) and
 * HTTP/1.1 (Connect JSON, gRPC-web, browsers, curl). Node's http2 server does not accept HTTP/1.1
 * without TLS, so each new socket is sniffed: it is HTTP/2 only if its first 24 bytes are the
 * client connection preface, and HTTP/1.1 as soon as a byte differs from it. With TLS and raw
 * protocols: a TLS record (0x16) goes to the TLS server, a raw protocol's first byte to its
 * handler, anything else is closed. A raw protocol (see raw-protocol.ts) is decided on the first
 * byte, before any of that. Nothing is decided on fewer bytes than that needs; a socket that stays
 * silent is closed. Written here rather than taken from @httptoolkit/httpolyglot because we need
 * the plaintext h2c + http/1.1 pair and raw protocols, and want the silent-socket timeout and
 * connection accounting under our control.
 */
import type { Server as Http1Server } from "node:http";
import type { Http2SecureServer, Http2Server } from "node:http2";
import { createServer, type Server, type Socket } from "node:net";
import { type RawProtocol, tlsHandshakeByte } from "./raw-protocol.js";

/** The HTTP/2 client connection preface (RFC 9113, section 3.4). */
export const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type Protocol = "h2" | "http/1.1";

/**
 * Reads from `socket` until `decide` returns a decision for the bytes seen so far, then pauses the
 * socket, puts the bytes back and calls `done`. Closes the socket (and calls `onSilent`) if no
 * decision is reached within `timeoutMs`.
 */
function sniffSocket<T>(
  socket: Socket,
  timeoutMs: number,
  decide: (seen: Buffer) => T | undefined,
  done: (decision: T) => void,
  onSilent?: () => void,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    onSilent?.();
    socket.destroy();
  }, timeoutMs);
  const cleanup = () => {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("error", onError);
    socket.off("close", onClose);
  };
  const onError = () => {
    cleanup();
    socket.destroy();
  };
  const onClose = () => cleanup();
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const decision = decide(seen);
    if (decision === undefined) return; // need more bytes
    cleanup();
    socket.pause();
    socket.unshift(seen);
    done(decision);
  };
  socket.on("data", onData);
  socket.on("error", onError);
  socket.on("close", onClose);
}

/** HTTP/2 once the whole preface arrived, HTTP/1.1 once a byte differs from it. */
function decideHttp(seen: Buffer): Protocol | undefined {
  const n = Math.min(seen.length, http2Preface.length);
  const matches = seen.subarray(0, n).equals(http2Preface.subarray(0, n));
  if (matches && seen.length < http2Preface.length) return undefined;
  return matches ? "h2" : "http/1.1";
}

/**
 * Reads from `socket` until the protocol is certain, then puts the bytes back and calls `done`.
 * Closes the socket (and calls `onSilent`) if nothing decisive arrives within `timeoutMs`.
 */
export function sniffProtocol(
  socket: Socket,
  timeoutMs: number,
  done: (protocol: Protocol) => void,
  onSilent?: () => void,
): void {
  sniffSocket(socket, timeoutMs, decideHttp, done, onSilent);
}

/** A TCP server that hands each connection to a raw protocol, `h2` or `h1` after sniffing it. */
export function createPlaintextListener(opts: {
  h1: Http1Server;
  h2: Http2Server;
  /** Protocols chosen by the first byte, checked before HTTP. @default none */
  raw?: readonly RawProtocol[];
  /** How long a new connection may stay silent. */
  sniffTimeoutMs: number;
  /** Called when a socket is closed for staying silent. */
  onSilent?: () => void;
}): Server {
  const raw = rawByByte(opts.raw);
  return createServer({ noDelay: true }, (socket) => {
    sniffSocket<Protocol | RawProtocol>(
      socket,
      opts.sniffTimeoutMs,
      (seen) => raw.get(seen[0] as number) ?? decideHttp(seen),
      (protocol) => {
        if (typeof protocol === "object") {
          protocol.handle(socket);
        } else if (protocol === "h2") {
          // The http2 session takes the socket's handle and reads the unshifted bytes itself.
          opts.h2.emit("connection", socket);
        } else {
          opts.h1.emit("connection", socket);
          // The http/1.1 parser reads the unshifted bytes once the socket flows again.
          socket.resume();
        }
      },
      opts.onSilent,
    );
  });
}

/**
 * A TCP server in front of the TLS server, for when raw protocols share its port: a TLS handshake
 * record goes to `secure` (which reads the unshifted byte: Node's TLSSocket takes over what the
 * plain socket has buffered), a raw protocol's first byte to its handler, anything else is closed
 * at once (`onUnknown`).
 */
export function createTlsSniffingListener(opts: {
  secure: Http2SecureServer;
  raw: readonly RawProtocol[];
  /** How long a new connection may stay silent. */
  sniffTimeoutMs: number;
  /** Called when a socket is closed for staying silent. */
  onSilent?: () => void;
  /** Called when a socket is closed for a first byte no protocol here starts with. */
  onUnknown?: () => void;
}): Server {
  const raw = rawByByte(opts.raw);
  return createServer({ noDelay: true }, (socket) => {
    sniffSocket<"tls" | "unknown" | RawProtocol>(
      socket,
      opts.sniffTimeoutMs,
      (seen) => raw.get(seen[0] as number) ?? (seen[0] === tlsHandshakeByte ? "tls" : "unknown"),
      (protocol) => {
        if (typeof protocol === "object") protocol.handle(socket);
        else if (protocol === "tls") opts.secure.emit("connection", socket);
        else {
          opts.onUnknown?.();
          socket.destroy();
        }
      },
      opts.onSilent,
    );
  });
}

function rawByByte(protocols: readonly RawProtocol[] = []): Map<number, RawProtocol> {
  return new Map(protocols.map((p) => [p.firstByte, p]));
}
