/**
 * Bounds what a connection may hold on the one port: idle connections, slow request headers, slow
 * request bodies, HTTP/2 sessions with nothing open, and the number of connections at once.
 *
 * Node gives part of this: the HTTP/1 parser tracks when a request began and when its headers were
 * complete, and a server checks that on an interval (headersTimeout). That interval starts only
 * when the HTTP/1 server itself listens, and ours never does (the sniffing listener hands it
 * sockets with emit("connection")), so it is started here. HTTP/2 has no such timeouts at all, and
 * a body timeout must spare streaming request bodies, which Node's requestTimeout cannot: both are
 * written here, as small timers per session and per request.
 */
import type { Server as Http1Server, IncomingMessage, ServerOptions } from "node:http";
import {
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2Session,
  constants as http2Constants,
  type SecureServerOptions,
} from "node:http2";
import type { Server as NetServer, Socket } from "node:net";
import { Server as TlsServer } from "node:tls";
import type { DescService } from "@bufbuild/protobuf";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "./logger.js";

/** Why the server closed a connection (the `reason` label of the closed-connections counter). */
export type CloseReason =
  | "idle"
  | "headers_timeout"
  | "body_timeout"
  | "limit"
  | "unknown_protocol";

/** The timeouts and limits a {@link ConnectionGuard} enforces. */
export interface ConnectionGuardOptions {
  /** Silent before the protocol is known, between HTTP/1.1 requests, or no HTTP/2 stream open. */
  readonly idleSocketTimeoutMs: number;
  /** From the first byte of a request to its last header byte; also the TLS handshake. */
  readonly headersTimeoutMs: number;
  /** From a request's headers to the end of its body, for bodies that are one message. */
  readonly bodyTimeoutMs: number;
  /** Connections open at once. */
  readonly maxConnections: number;
  /** Where the connection metrics are registered. */
  readonly registry: Registry;
  /** Each close is logged at debug level. @default not logged */
  readonly logger?: Logger;
  /**
   * The services served: the paths of their client- and bidi-streaming methods are exempt from the
   * body timeout, since such a request body is a stream that may rightly stay open for as long as
   * the call does (a reflection session, for one).
   */
  readonly services: readonly DescService[];
}

/** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS the server advertises (and enforces). */
export const maxConcurrentStreams = 100;
/** The largest header list (uncompressed bytes) an HTTP/2 request may carry; Node's HTTP/1 limit is 16 KiB. */
export const maxHeaderListSize = 64 * 1024;

/** What Node answers a malformed or timed-out HTTP/1.1 request with (400 otherwise). */
const clientErrorStatus: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
  HPE_CHUNK_EXTENSIONS_OVERFLOW: "413 Payload Too Large",
};

/** Applies the connection limits to the servers of the one port. */
export interface ConnectionGuard {
  /** Options for the HTTP/2 server, plaintext or TLS: stream and header-list bounds, TLS handshake time. */
  readonly http2Options: Pick<
    SecureServerOptions,
    "settings" | "maxHeaderListPairs" | "handshakeTimeout"
  >;
  /** The accepting server: the connection cap, the open-connections gauge, drops counted. */
  guardListener(listener: NetServer): void;
  /** The plaintext HTTP/1.1 server fed by the sniffing listener. */
  guardHttp1(server: Http1Server): void;
  /** The HTTP/2 server (plaintext), or the TLS server with its HTTP/1.1 fallback. */
  guardHttp2(server: Http2Server | Http2SecureServer): void;
  /** Starts the body timeout of one request; call it first thing in the request handler. */
  watchBody(req: IncomingMessage | Http2ServerRequest): void;
  /** Counts a connection the server closed elsewhere (the sniffing listeners' silent or unknown sockets). */
  closed(reason: CloseReason): void;
  /** Stops the HTTP/1 checking interval (at shutdown). */
  stop(): void;
}

/** Creates the guard; its metrics are registered on `opts.registry`. */
export function createConnectionGuard(opts: ConnectionGuardOptions): ConnectionGuard {
  const open = new Gauge({
    name: "lucid_connections_open",
    help: "TCP connections open on the service's port.",
    registers: [opts.registry],
  });
  const closedTotal = new Counter({
    name: "lucid_connections_closed_total",
    help: "Connections the server closed or refused, by reason: idle, headers_timeout, body_timeout, limit, unknown_protocol.",
    labelNames: ["reason"],
    registers: [opts.registry],
  });
  for (const reason of ["idle", "headers_timeout", "body_timeout", "limit", "unknown_protocol"]) {
    closedTotal.inc({ reason }, 0);
  }
  const closed = (reason: CloseReason) => {
    closedTotal.inc({ reason });
    opts.logger?.debug({ reason }, "connection closed by the server");
  };

  const streamingPaths = new Set(
    opts.services.flatMap((svc) =>
      svc.methods
        .filter((m) => m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming")
        .map((m) => `/${svc.typeName}/${m.name}`),
    ),
  );

  // How often Node's HTTP/1 server looks for requests past their headers timeout: often enough
  // that a request is closed within a quarter of the timeout after it ran out.
  const checkEveryMs = Math.min(1_000, Math.max(50, Math.floor(opts.headersTimeoutMs / 4)));
  const http1Settings: ServerOptions = {
    headersTimeout: opts.headersTimeoutMs,
    // The whole-request timeout cannot spare streaming bodies: watchBody does the body instead.
    requestTimeout: 0,
    keepAliveTimeout: opts.idleSocketTimeoutMs,
    connectionsCheckingInterval: checkEveryMs,
  };
  const checked = new Set<Http1Server | Http2SecureServer>();

  /** HTTP/1.1 on `server`: the headers timeout, keep-alive idle time, and their errors counted. */
  const guardHttp1Part = (server: Http1Server | Http2SecureServer) => {
    Object.assign(server, http1Settings);
    checked.add(server);
    // With a listener here Node leaves the answer to us: the same answer as its own, plus the count.
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") closed("headers_timeout");
      const inFlight = (socket as { _httpMessage?: { headersSent: boolean } })._httpMessage;
      if (socket.writable && !inFlight?.headersSent) {
        const status = clientErrorStatus[err.code ?? ""] ?? "400 Bad Request";
        socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      }
      socket.destroy();
    });
    // A socket timeout is the idle time (see idleUntilRequest) or Node's keep-alive timeout.
    server.on("timeout", (socket: Socket | Http2Session) => {
      closed("idle");
      socket.destroy();
    });
    server.on("request", (req: IncomingMessage | Http2ServerRequest) => {
      if (req.httpVersionMajor === 1) req.socket.setTimeout(0);
    });
  };
  /** A new HTTP/1.1 connection may stay silent for the idle time until its first request. */
  const idleUntilRequest = (socket: Socket) => socket.setTimeout(opts.idleSocketTimeoutMs);

  /** Closes an HTTP/2 session that has had no stream open for the idle time (GOAWAY first). */
  const guardSession = (session: Http2Session) => {
    let streams = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      timer = setTimeout(() => {
        if (streams > 0 || session.closed || session.destroyed) return;
        closed("idle");
        // No two-step close (a GOAWAY admitting every stream, then the real one): after any
        // GOAWAY, nghttp2 ignores new streams, so a call crossing it fails either way.
        session.goaway(http2Constants.NGHTTP2_NO_ERROR);
        session.close();
        // A peer that never reads would hold the close open: cut it after one more idle time.
        setTimeout(() => {
          if (streams === 0) session.destroy();
        }, opts.idleSocketTimeoutMs).unref();
      }, opts.idleSocketTimeoutMs);
      timer.unref();
    };
    arm();
    session.on("stream", (stream) => {
      streams++;
      clearTimeout(timer);
      stream.once("close", () => {
        streams--;
        if (streams === 0 && !session.closed && !session.destroyed) arm();
      });
    });
    session.once("close", () => clearTimeout(timer));
  };

  const watchBody = (req: IncomingMessage | Http2ServerRequest) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (streamingPaths.has(path)) return; // a client- or bidi-streaming body: exempt
    if (req.httpVersionMajor === 1) {
      const h1 = req as IncomingMessage;
      if (h1.complete) return;
      const timer = setTimeout(() => {
        if (h1.complete || h1.socket.destroyed) return;
        closed("body_timeout");
        h1.socket.destroy();
      }, opts.bodyTimeoutMs);
      timer.unref();
      const done = () => clearTimeout(timer);
      // "end" comes once the body was read (or dumped after the response), "close" if the
      // request or its connection is torn down first.
      h1.once("end", done);
      h1.once("close", done);
      return;
    }
    const stream = (req as Http2ServerRequest).stream;
    if (stream.endAfterHeaders || stream.readableEnded || stream.destroyed) return;
    const timer = setTimeout(() => {
      if (stream.readableEnded || stream.destroyed) return;
      closed("body_timeout");
      stream.close(http2Constants.NGHTTP2_CANCEL);
    }, opts.bodyTimeoutMs);
    timer.unref();
    const done = () => clearTimeout(timer);
    stream.once("end", done);
    stream.once("close", done);
  };

  return {
    http2Options: {
      settings: { maxConcurrentStreams, maxHeaderListSize },
      maxHeaderListPairs: 128,
      // Used by the TLS server only: a handshake is the TLS part of a request's headers.
      handshakeTimeout: opts.headersTimeoutMs,
    },
    guardListener(listener) {
      listener.maxConnections = opts.maxConnections;
      listener.on("drop", () => closed("limit"));
      listener.on("connection", (socket: Socket) => {
        open.inc();
        socket.once("close", () => open.dec());
      });
    },
    guardHttp1(server) {
      guardHttp1Part(server);
      server.on("connection", idleUntilRequest);
      // Starts Node's headers-timeout checks, which begin on "listening": this server never
      // listens itself (the sniffing listener feeds it), so it is told it does.
      server.emit("listening");
    },
    guardHttp2(server) {
      server.on("session", guardSession);
      if (!(server instanceof TlsServer)) return; // plaintext: HTTP/2 only
      const secure = server as Http2SecureServer;
      // The TLS server serves HTTP/1.1 itself (allowHTTP1) and starts its checks when it listens.
      guardHttp1Part(secure);
      secure.on("secureConnection", (socket: Socket & { alpnProtocol?: string | false }) => {
        if (socket.alpnProtocol !== "h2") idleUntilRequest(socket);
      });
      secure.on("tlsClientError", (err: NodeJS.ErrnoException) => {
        if (err.code === "ERR_TLS_HANDSHAKE_TIMEOUT") closed("headers_timeout");
      });
    },
    watchBody,
    closed,
    stop() {
      for (const server of checked) {
        if (server instanceof TlsServer) continue; // closed with its listener
        (server as Http1Server).close(() => {});
      }
    },
  };
}
