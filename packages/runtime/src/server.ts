/**
 * Serves one service on ONE port to every client of the mesh: gRPC (HTTP/2), gRPC-web and Connect
 * (JSON and binary, HTTP/1.1 or HTTP/2), plus grpc.health.v1, server reflection, /health, /livez,
 * /readyz and /metrics. With TLS configured: TLS with ALPN h2 and http/1.1 on the same port.
 *
 * Shutdown: health goes NOT_SERVING, the listener stops accepting, every HTTP/2 session gets a
 * GOAWAY (Node's server.close() does not send one), HTTP/1.1 keep-alive connections are closed
 * after their current response, in-flight calls drain up to the grace time and are then aborted.
 */
import { readFileSync } from "node:fs";
import {
  createServer as createHttp1Server,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import {
  createServer as createHttp2Server,
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  constants as http2Constants,
} from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  MethodOptions_IdempotencyLevel as Idempotency,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { collectDefaultMetrics, Registry } from "prom-client";
import { authInterceptor, authorize, createAuthenticator, principalKey } from "./auth.js";
import { createConnectionGuard } from "./connection-guard.js";
import { createCorsPolicy, isPreflight } from "./cors.js";
import { edgeInterceptor } from "./edge/edge-interceptor.js";
import { createEdgeAdapter } from "./edge/node-adapter.js";
import { createRefusalReporter } from "./edge/refusal-reporter.js";
import { ErrorMapper, type ErrorRule } from "./errors.js";
import { Health } from "./gen/grpc/health/v1/health_pb.js";
import { type DependencyCheck, HealthMonitor, healthRoutes } from "./health.js";
import { createPlaintextListener, createTlsSniffingListener } from "./listener.js";
import type { Logger } from "./logger.js";
import { createRpcMetrics, observeInterceptor } from "./observe.js";
import { checkRawProtocols, type RawProtocol } from "./raw-protocol.js";
import { reflectionRoutes, reflectionServiceNames, reflectionServices } from "./reflection.js";
import type { RuntimeConfig } from "./runtime-config.js";
import { safeReason } from "./safe-reason.js";
import { validateInterceptor } from "./validate.js";

type AnyRequest = IncomingMessage | Http2ServerRequest;

type AnyResponse = ServerResponse | Http2ServerResponse;

/** A plain HTTP route next to the RPCs (e.g. GET /sessions/{id}.rdp); returns true if it answered. */
export type HttpHandler = (req: AnyRequest, res: AnyResponse) => boolean | Promise<boolean>;

export interface ServerOptions {
  readonly config: RuntimeConfig;
  readonly logger: Logger;
  /** Registers the service's own RPCs. */
  readonly routes: (router: ConnectRouter) => void;
  /** The services `routes` registers: listed by reflection and known to health. */
  readonly services: readonly DescService[];
  /** Dependencies health depends on. @default none */
  readonly checks?: readonly DependencyCheck[];
  /** Domain error -> Connect code rules. @default none */
  readonly errorRules?: readonly ErrorRule[];
  /** Extra interceptors, run after auth and validation, closest to the handler. */
  readonly interceptors?: readonly Interceptor[];
  /** Plain HTTP routes served before the RPC router. */
  readonly http?: HttpHandler;
  /**
   * The served files compiled with their comments (e.g. contractsSourceInfo() from
   * @lucid-rdp/gen/source-info), so reflection clients show the documentation. @default none
   */
  readonly sourceInfo?: Iterable<FileDescriptorProto>;
  /**
   * Non-HTTP protocols on the same port, chosen by a connection's first byte (plaintext and TLS);
   * each handler owns its sockets and closes them itself, in `onShutdown`. @default none
   */
  readonly rawProtocols?: readonly RawProtocol[];
  /**
   * Runs after the listener stopped accepting and calls drained: close clients, stores and the
   * raw protocols' connections here.
   */
  readonly onShutdown?: () => Promise<void>;
}

export interface RunningServer {
  /** The bound port (useful with PORT=0). */
  readonly port: number;
  /** http(s)://host:port */
  readonly url: string;
  readonly health: HealthMonitor;
  /** The Prometheus registry behind /metrics; services add their own metrics to it. */
  readonly metrics: Registry;
  /** Aborted when shutdown begins: long-lived streams (Watch RPCs) end on it. */
  readonly shutdownSignal: AbortSignal;
  /** Graceful shutdown; resolves when everything is closed. Idempotent. */
  shutdown(): Promise<void>;
}

/** Starts serving. Resolves once the port is bound and the first health checks ran. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { config, logger } = opts;
  const rawProtocols = opts.rawProtocols ?? [];
  checkRawProtocols(rawProtocols);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  // prom-client names three gauges *_total, which `promtool check metrics` rejects (only counters
  // may end in _total): drop them rather than publish names that break the conventions.
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ]) {
    metrics.removeSingleMetric(name);
  }
  const rpcMetrics = createRpcMetrics(metrics);
  const errors = new ErrorMapper(opts.errorRules);

  const served = [...opts.services, Health];
  // What each RPC path answers besides POST: Connect serves GET for unary NO_SIDE_EFFECTS methods
  // only. connect-node refuses everything else with a bare 405; the runtime says what works.
  const otherMethods = new Map(
    [...served, ...reflectionServices].flatMap((svc) =>
      svc.methods.map((m) => {
        const get = m.methodKind === "unary" && m.idempotency === Idempotency.NO_SIDE_EFFECTS;
        const why = get
          ? "a side-effect-free method: use GET or POST"
          : m.methodKind === "unary"
            ? "a method with side effects: use POST"
            : "a streaming method: use POST";
        return [
          `/${svc.typeName}/${m.name}` as string,
          { allow: get ? "GET, POST" : "POST", why },
        ] as const;
      }),
    ),
  );
  const health = new HealthMonitor({
    services: [...served.map((s) => s.typeName), ...reflectionServiceNames()],
    checks: opts.checks,
    intervalMs: config.healthIntervalMs,
    logger,
  });
  await health.start();

  const shutdownBegun = new AbortController();
  const forceAbort = new AbortController();

  // edgeInterceptor right after observe: it raises what the edge adapter found before connect
  // parsed the request, so observe logs and counts it like any other error.
  const interceptors: Interceptor[] = [
    observeInterceptor({
      metrics: rpcMetrics,
      logger,
      errors,
      shutdownSignal: shutdownBegun.signal,
    }),
    edgeInterceptor(),
  ];
  const authenticator = config.auth.mode === "jwt" ? createAuthenticator(config.auth) : undefined;
  if (authenticator !== undefined) interceptors.push(authInterceptor(authenticator));
  interceptors.push(validateInterceptor(), ...(opts.interceptors ?? []));

  const rpc = createEdgeAdapter({
    routes: (router) => {
      opts.routes(router);
      healthRoutes(health)(router);
      reflectionRoutes(served, { sourceInfo: opts.sourceInfo })(router);
    },
    interceptors,
    maxMessageBytes: config.maxMessageBytes,
    // Cancels every in-flight handler once the grace time is over.
    shutdownSignal: forceAbort.signal,
    fallback: (req, res) => unknownRoute(req, res),
    // Auth is decided from the headers before any body byte is read or inflated.
    authorize:
      authenticator === undefined
        ? undefined
        : async (method, header, values) => {
            const principal = await authorize(authenticator, method, header.get("authorization"));
            if (principal !== undefined) values.set(principalKey, principal);
          },
    onRefused: createRefusalReporter({ metrics: rpcMetrics, logger }),
    onError: (err, method) =>
      logger.error({ err, rpc: `${method.parent.typeName}/${method.name}` }, "rpc adapter failed"),
  });
  const cors = createCorsPolicy(config.corsOrigins);

  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  const handle = (req: AnyRequest, res: AnyResponse): void => {
    inFlight++;
    res.once("close", () => {
      inFlight--;
      if (inFlight === 0) onDrained?.();
    });
    if (shutdownBegun.signal.aborted && req.httpVersionMajor === 1) {
      res.setHeader("connection", "close");
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (isPreflight(req.method, req.headers)) {
        if (cors.allows(origin)) res.writeHead(204, cors.preflightHeaders(origin));
        else res.writeHead(403, { "content-type": "text/plain" });
        res.end();
        return;
      }
      if (cors.allows(origin)) {
        for (const [k, v] of Object.entries(cors.responseHeaders(origin))) {
          if (v !== undefined) res.setHeader(k, v);
        }
      }
    }
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" || req.method === "HEAD") {
      switch (path) {
        case "/health": {
          // The endpoint is open: a failing check's reason is shown as safeReason() makes it
          // (one line, credentials redacted, no stack); the log has the whole error.
          const report = health.report();
          const checks = Object.fromEntries(
            Object.entries(report.checks).map(([k, { ok, error, checkedAt }]) => [
              k,
              { ok, ...(error !== undefined && { error: safeReason(error) }), checkedAt },
            ]),
          );
          json(res, report.status === "SERVING" ? 200 : 503, {
            service: config.serviceName,
            ...report,
            checks,
          });
          return;
        }
        case "/livez":
          json(res, 200, { status: "ok" });
          return;
        case "/readyz": {
          const ok = health.report().status === "SERVING";
          json(res, ok ? 200 : 503, { status: ok ? "ready" : "not ready" });
          return;
        }
        case "/metrics":
          metrics
            .metrics()
            .then((text) => {
              res.writeHead(200, { "content-type": metrics.contentType });
              res.end(text);
            })
            .catch((e: unknown) => {
              logger.error({ err: e }, "metrics");
              json(res, 500, { error: "metrics unavailable" });
            });
          return;
      }
    }
    const rpcPath = otherMethods.get(path ?? "");
    if (
      rpcPath !== undefined &&
      req.method !== "POST" &&
      !(req.method === "GET" && rpcPath.allow === "GET, POST")
    ) {
      // With the Allow header RFC 9110 requires, which connect-node's bare 405 lacks. The reason
      // is plain text: a Connect client reads a JSON error body as the call's code, and the
      // Connect protocol (and its conformance suite) has a 405 read as UNKNOWN, not as a code.
      res.setHeader("allow", rpcPath.allow);
      res.writeHead(405, {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(`${path} is ${rpcPath.why}\n`);
      return;
    }
    const next = () => rpc(req, res);
    if (opts.http === undefined) {
      next();
      return;
    }
    Promise.resolve(opts.http(req, res))
      .then((answered) => {
        if (!answered) next();
      })
      .catch((e: unknown) => {
        logger.error({ err: e, path }, "http route failed");
        if (!res.headersSent) json(res, 500, { error: "internal error" });
        else res.destroy();
      });
  };

  const guard = createConnectionGuard({
    ...config,
    registry: metrics,
    logger,
    services: [...served, ...reflectionServices],
  });
  const guarded = (req: AnyRequest, res: AnyResponse): void => {
    guard.watchBody(req);
    handle(req, res);
  };

  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const trackSession = (s: Http2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  };
  const trackSocket = (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  };

  // Sockets handed to a raw protocol leave the runtime's care (it does not destroy them at
  // shutdown) but still count against MAX_CONNECTIONS: the listener counts every accepted socket.
  const rawSockets = new Set<Socket>();
  const raw = rawProtocols.map(
    (p): RawProtocol => ({
      name: p.name,
      firstByte: p.firstByte,
      handle: (socket) => {
        sockets.delete(socket);
        rawSockets.add(socket);
        socket.once("close", () => rawSockets.delete(socket));
        try {
          p.handle(socket);
        } catch (e) {
          logger.error({ err: e, protocol: p.name }, "raw protocol handler failed");
          socket.destroy();
        }
      },
    }),
  );

  let listener: NetServer;
  const closers: Array<() => void> = [];
  if (config.tls === undefined) {
    const h1 = createHttp1Server(guarded);
    const h2 = createHttp2Server(guard.http2Options, guarded);
    guard.guardHttp1(h1);
    guard.guardHttp2(h2);
    h1.on("connection", trackSocket);
    h2.on("connection", trackSocket);
    h2.on("session", trackSession);
    listener = createPlaintextListener({
      h1,
      h2,
      raw,
      sniffTimeoutMs: config.idleSocketTimeoutMs,
      onSilent: () => guard.closed("idle"),
    });
    closers.push(() => h1.closeIdleConnections(), guard.stop);
  } else {
    const secure = createSecureServer(
      {
        cert: readFileSync(config.tls.certFile),
        key: readFileSync(config.tls.keyFile),
        allowHTTP1: true,
        ALPNProtocols: ["h2", "http/1.1"],
        ...guard.http2Options,
      },
      guarded,
    );
    guard.guardHttp2(secure);
    secure.on("secureConnection", trackSocket);
    secure.on("session", trackSession);
    if (raw.length === 0) {
      listener = secure;
    } else {
      // A plain TCP server sniffs the first byte and hands TLS records to `secure`, which never
      // listens itself: it is told it does, which starts its HTTP/1.1 headers-timeout checks.
      listener = createTlsSniffingListener({
        secure,
        raw,
        sniffTimeoutMs: config.idleSocketTimeoutMs,
        onSilent: () => guard.closed("idle"),
        onUnknown: () => guard.closed("unknown_protocol"),
      });
      secure.emit("listening");
      // Stops those checks and closes idle HTTP/1.1 connections, as the plaintext path does.
      closers.push(() => secure.close(() => {}));
    }
  }
  listener.on("connection", trackSocket);
  guard.guardListener(listener);

  await new Promise<void>((resolve, reject) => {
    listener.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EADDRINUSE" && e.code !== "EACCES") return reject(e);
      logger.fatal({ port: config.port, host: config.host, code: e.code }, "cannot listen");
      reject(new ListenError(config.host, config.port, e.code));
    });
    listener.listen(config.port, config.host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const port = (listener.address() as AddressInfo).port;
  const scheme = config.tls === undefined ? "http" : "https";
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `${scheme}://${hostForUrl}:${port}`;

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      logger.info({ inFlight, graceMs: config.shutdownGraceMs }, "shutting down");
      // Once the listener and sockets are closed, what onShutdown waits for (a child's exit, an
      // unref'd grace timer) may hold no handle: Node would then exit mid-shutdown, leaving the
      // service's children behind. This keeps the process up until the shutdown has finished.
      const keepAlive = setInterval(() => undefined, 60_000);
      try {
        await drainAndClose();
      } finally {
        clearInterval(keepAlive);
      }
      logger.info("stopped");
    })();
    return shutdownPromise;
  };
  /** Drains the calls, closes connections and runs onShutdown (the body of shutdown()). */
  const drainAndClose = async (): Promise<void> => {
    health.beginShutdown();
    shutdownBegun.abort();
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const s of sessions) {
      if (!s.closed && !s.destroyed) {
        // Without a last-stream id, Node sends the last stream it processed: streams the client
        // opened after it are refused and safe to retry elsewhere.
        s.goaway(http2Constants.NGHTTP2_NO_ERROR);
        s.close();
      }
    }
    for (const c of closers) c();
    if (inFlight > 0) {
      const drained = new Promise<boolean>((resolve) => {
        onDrained = () => resolve(true);
        setTimeout(() => resolve(false), config.shutdownGraceMs).unref();
      });
      if (!(await drained)) {
        logger.warn({ inFlight }, "grace time over: cancelling calls still in flight");
        forceAbort.abort(new ConnectError("server is shutting down", Code.Unavailable));
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
    if (rawSockets.size === 0) {
      await closed;
      await opts.onShutdown?.();
    } else {
      // The listener's close waits for every socket, raw ones too, and those are the service's
      // to close in onShutdown: run it first, then wait, and destroy what it left after the
      // grace time rather than hang.
      await opts.onShutdown?.();
      const allClosed = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), config.shutdownGraceMs).unref()),
      ]);
      if (!allClosed) {
        logger.warn({ open: rawSockets.size }, "raw connections left open by the service: closing");
        for (const s of rawSockets) s.destroy();
        await closed;
      }
    }
  };

  logger.info(
    {
      url,
      services: opts.services.map((s) => s.typeName),
      tls: config.tls !== undefined,
      auth: config.auth.mode,
    },
    "listening",
  );
  return { port, url, health, metrics, shutdownSignal: shutdownBegun.signal, shutdown };
}

/**
 * Answers a path no route serves. gRPC clients get UNIMPLEMENTED as a trailers-only response
 * (a bare 404 reads as INTERNAL to grpc-go, so grpcurl would not fall back from reflection v1 to
 * v1alpha); everyone else gets a JSON 404.
 */
function unknownRoute(req: AnyRequest, res: AnyResponse): void {
  const type = String(req.headers["content-type"] ?? "");
  if (type.startsWith("application/grpc")) {
    const path = (req.url ?? "").split("?")[0];
    res.writeHead(200, {
      "content-type": type.startsWith("application/grpc-web") ? type : "application/grpc",
      "grpc-status": String(Code.Unimplemented),
      "grpc-message": encodeURIComponent(`unknown method ${path}`),
    });
    res.end();
    return;
  }
  // UNIMPLEMENTED, as the Connect protocol has a client read an unknown method's 404.
  json(res, 404, {
    code: "unimplemented",
    message: `no such route: ${(req.url ?? "").split("?")[0]}`,
  });
}

function json(res: AnyResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  });
  res.end(text);
}

/**
 * The service's port cannot be bound: taken by another process (EADDRINUSE) or privileged
 * (EACCES). Its message is one line an operator can act on; `listenOrExit` prints it and exits 1.
 */
export class ListenError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: "EADDRINUSE" | "EACCES",
  ) {
    super(
      code === "EADDRINUSE"
        ? `port ${port} on ${host} is already in use (another copy of this service, or another program): stop it, or set PORT to another port`
        : `port ${port} on ${host} needs privileges this process lacks: set PORT to a port above 1023`,
    );
    this.name = "ListenError";
  }
}
