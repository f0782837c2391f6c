/**
 * One plaintext port for every client: HTTP/2 with prior knowledge (gRPC, grpcurl -plaintext) and
 * HTTP/1.1 (Connect JSON, gRPC-web, browsers, curl). Node's http2 server does not accept HTTP/1.1
 * without TLS, so each new socket is sniffed: it is HTTP/2 only if its first 24 bytes are the
 * client connection preface, and HTTP/1.1 as soon as a byte differs from it. Nothing is decided on
 * fewer bytes than that needs; a socket that stays silent is closed. Written here rather than
 * taken from @httptoolkit/httpolyglot because we need the plaintext h2c + http/1.1 pair only and
 * want the silent-socket timeout and connection accounting under our control.
 */
import type { Server as Http1Server } from "node:http";
import type { Http2Server } from "node:http2";
import { createServer, type Server, type Socket } from "node:net";

/** The HTTP/2 client connection preface (RFC 9113, section 3.4). */
export const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type Protocol = "h2" | "http/1.1";

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
    const n = Math.min(seen.length, http2Preface.length);
    const matches = seen.subarray(0, n).equals(http2Preface.subarray(0, n));
    if (matches && seen.length < http2Preface.length) return; // need more bytes
    cleanup();
    socket.pause();
    socket.unshift(seen);
    done(matches ? "h2" : "http/1.1");
  };
  socket.on("data", onData);
  socket.on("error", onError);
  socket.on("close", onClose);
}

/** A TCP server that hands each connection to `h2` or `h1` after sniffing it. */
export function createPlaintextListener(opts: {
  h1: Http1Server;
  h2: Http2Server;
  /** How long a new connection may stay silent. */
  sniffTimeoutMs: number;
  /** Called when a socket is closed for staying silent. */
  onSilent?: () => void;
}): Server {
  return createServer({ noDelay: true }, (socket) => {
    sniffProtocol(
      socket,
      opts.sniffTimeoutMs,
      (protocol) => {
        if (protocol === "h2") {
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
