/**
 * Clients of the Lucid RDP services for Node.js: gRPC (HTTP/2, the mesh's default) or Connect
 * (JSON or binary over HTTP/1.1 or HTTP/2).
 *
 * ```ts
 * import { createNodeClient } from "@lucid-rdp/gen/node";
 * import { SessionControllerService } from "@lucid-rdp/gen";
 * const sessions = createNodeClient(SessionControllerService, { baseUrl: "http://127.0.0.1:8082" });
 * ```
 */
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor, type TokenSource } from "./bearer.js";

export interface NodeClientOptions {
  /** The service's base URL, e.g. http://127.0.0.1:8082. */
  readonly baseUrl: string;
  /** @default "grpc" */
  readonly protocol?: "grpc" | "connect";
  /** For protocol "connect": JSON instead of binary. @default false */
  readonly useJson?: boolean;
  /** For protocol "connect": HTTP/1.1 or HTTP/2. @default "2" */
  readonly httpVersion?: "1.1" | "2";
  /** Deadline of each call that sets none. @default 10000 */
  readonly timeoutMs?: number;
  /** A bearer token, or a function returning one, sent on every call. */
  readonly token?: TokenSource;
  readonly interceptors?: readonly Interceptor[];
}

/**
 * Turns the ways a peer goes away into UNAVAILABLE, the code callers retry, with the original
 * error as `cause`: a stream refused by a peer that has begun shutdown (HTTP/2 REFUSED_STREAM:
 * opened before its GOAWAY arrived, beyond the GOAWAY's last stream, so it never ran;
 * connect-node reports it as INTERNAL) and a connection lost mid-call (a peer killed or crashed:
 * CANCELLED over HTTP/2, ABORTED with ECONNRESET over HTTP/1.1; any CANCELLED the caller did not
 * ask for). A call whose own signal is aborted (the caller cancelled it, or its deadline passed)
 * keeps its CANCELLED or DEADLINE_EXCEEDED. An error while reading a server stream is translated
 * the same way. `createNodeClient` installs it on every client, closest to the transport.
 */
export function peerLossInterceptor(): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (e) {
            throw asPeerLoss(e, req.signal);
          }
        })(),
      };
    } catch (e) {
      throw asPeerLoss(e, req.signal);
    }
  };
}

/** UNAVAILABLE errors of calls the peer never ran (see didNotRun). */
const notRunErrors = new WeakSet<object>();

/**
 * True when `e` says the peer never ran the call (a stream refused after GOAWAY, or a connection
 * closed idle as the call was sent): any call, idempotent or not, may be retried.
 */
export function didNotRun(e: unknown): boolean {
  return typeof e === "object" && e !== null && notRunErrors.has(e);
}

/**
 * How long a client keeps an HTTP/2 connection with no call open. Below the servers' default
 * IDLE_SOCKET_TIMEOUT_MS (10 s), so a client closes an idle connection before the server does and
 * never sends a call on a connection the server is closing.
 */
export const clientIdleConnectionMs = 4_000;

/** Node error codes of a connection that broke under a call. */
const lostConnection = new Set(["ECONNRESET", "EPIPE"]);

/** `e` as UNAVAILABLE when the peer refused the call or the connection was lost; else `e`. */
function asPeerLoss(e: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return e;
  const err = ConnectError.from(e);
  const chain: unknown[] = [];
  for (let c: unknown = err; c instanceof Error && !chain.includes(c); c = c.cause) chain.push(c);
  const nodeCodes = chain
    .map((c) => (c as { code?: unknown }).code)
    .filter((c) => typeof c === "string");
  const refused =
    (err.code === Code.Internal || err.code === Code.Unavailable) &&
    chain.some((c) => c instanceof Error && /REFUSED_STREAM/.test(c.message));
  // The peer closed an idle connection (GOAWAY) as this call was about to use it: never sent.
  const goneIdle = chain.some(
    (c) => c instanceof Error && /received GOAWAY without any open streams/.test(c.message),
  );
  if (refused || goneIdle) {
    const notRun = new ConnectError(
      refused
        ? "the peer refused the call, which did not run: it is shutting down (HTTP/2 REFUSED_STREAM)"
        : "the peer closed an idle connection as the call was sent on it; the call did not run",
      Code.Unavailable,
      err.metadata,
      undefined,
      err,
    );
    notRunErrors.add(notRun);
    return notRun;
  }
  if (err.code === Code.Canceled || nodeCodes.some((c) => lostConnection.has(c))) {
    return new ConnectError(
      "the connection to the peer was lost before the call finished: the peer stopped or crashed",
      Code.Unavailable,
      err.metadata,
      undefined,
      err,
    );
  }
  return e;
}

/** Creates a typed client of `service` for Node.js. */
export function createNodeClient<S extends DescService>(
  service: S,
  opts: NodeClientOptions,
): Client<S> {
  const interceptors = [...(opts.interceptors ?? [])];
  if (opts.token !== undefined) interceptors.push(bearerInterceptor(opts.token));
  // Innermost, so that callers' interceptors (the mesh clients' retries) see UNAVAILABLE.
  interceptors.push(peerLossInterceptor());
  const common = {
    baseUrl: opts.baseUrl,
    defaultTimeoutMs: opts.timeoutMs ?? 10_000,
    idleConnectionTimeoutMs: clientIdleConnectionMs,
    interceptors,
  };
  const transport =
    (opts.protocol ?? "grpc") === "grpc"
      ? createGrpcTransport(common)
      : createConnectTransport({
          ...common,
          httpVersion: opts.httpVersion ?? "2",
          useBinaryFormat: !(opts.useJson ?? false),
        });
  return createClient(service, transport);
}
