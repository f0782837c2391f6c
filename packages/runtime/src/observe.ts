/**
 * Per-call observability: the go-grpc-prometheus metrics (grpc_server_started_total,
 * grpc_server_handled_total, grpc_server_handling_seconds, grpc_server_msg_received_total,
 * grpc_server_msg_sent_total) and one JSON log line per call with service, rpc, request id,
 * duration and code. Errors are mapped to ConnectErrors here, the one place at the edge, so that
 * metrics and logs see the code the client sees. Streams are counted when they end, with the code
 * they really ended with: a stream its handler ended because the call's signal aborted ends with
 * the signal's code (DEADLINE_EXCEEDED past its deadline, CANCELED when its client went away), and
 * a server stream that ends after shutdown began ends UNAVAILABLE, so that its client resumes on
 * another replica instead of taking the end for the stream's natural end.
 */
import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";
import type { ErrorMapper } from "./errors.js";
import type { Logger } from "./logger.js";

/** The header carrying a caller's request id; echoed in the response. */
export const requestIdHeader = "x-request-id";

/**
 * Marks a call as routine (a peer's poll, a node's heartbeat): when it succeeds its log line is at
 * debug, so that an idle mesh is quiet at info; a failure is logged as any other. The mesh client
 * sets it on every NO_SIDE_EFFECTS call.
 */
export const routineHeader = "x-lucid-routine";

export interface RpcMetrics {
  readonly started: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  readonly handled: Counter<"grpc_type" | "grpc_service" | "grpc_method" | "grpc_code">;
  readonly seconds: Histogram<"grpc_type" | "grpc_service" | "grpc_method">;
  readonly received: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  readonly sent: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
}

/** Registers the RPC metrics on `registry`. */
export function createRpcMetrics(registry: Registry): RpcMetrics {
  return {
    started: new Counter({
      name: "grpc_server_started_total",
      help: "Total number of RPCs started on the server.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method"],
      registers: [registry],
    }),
    handled: new Counter({
      name: "grpc_server_handled_total",
      help: "Total number of RPCs completed on the server, regardless of success or failure.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
      registers: [registry],
    }),
    seconds: new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Histogram of response latency (seconds) of RPCs that had been application-level handled by the server.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    received: new Counter({
      name: "grpc_server_msg_received_total",
      help: "Total number of RPC stream messages received on the server.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method"],
      registers: [registry],
    }),
    sent: new Counter({
      name: "grpc_server_msg_sent_total",
      help: "Total number of gRPC stream messages sent by the server.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method"],
      registers: [registry],
    }),
  };
}

const grpcTypes: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** The gRPC code name as go-grpc-prometheus prints it ("OK", "NotFound", ...). */
export function grpcCodeName(code: Code | undefined): string {
  return code === undefined ? "OK" : Code[code];
}

/** What {@link observeInterceptor} reports to and watches. */
export interface ObserveOptions {
  readonly metrics: RpcMetrics;
  readonly logger: Logger;
  readonly errors: ErrorMapper;
  /**
   * Aborted when the server's shutdown begins: a server stream that ends after it was cut short
   * by the shutdown (the services' Watch RPCs end on it) and ends UNAVAILABLE. @default none
   */
  readonly shutdownSignal?: AbortSignal;
}

/** Creates the outermost server interceptor. */
export function observeInterceptor(opts: ObserveOptions): Interceptor {
  const { metrics, logger, errors, shutdownSignal } = opts;
  return (next) => async (req) => {
    const method: DescMethod = req.method;
    const labels = {
      grpc_type: grpcTypes[method.methodKind],
      grpc_service: method.parent.typeName,
      grpc_method: method.name,
    };
    const rpc = `${method.parent.typeName}/${method.name}`;
    const requestId = req.header.get(requestIdHeader) ?? randomUUID();
    const routine = req.header.has(routineHeader);
    const startedAt = process.hrtime.bigint();
    metrics.started.inc(labels);

    /**
     * Why the call's signal aborted, as the code its client saw: DEADLINE_EXCEEDED, CANCELED (the
     * client went away), UNAVAILABLE (shutdown forced the call off). Undefined while it runs.
     * A fresh error each time: the reason may be shared by every call (the shutdown's).
     */
    const signalled = (cause?: unknown): ConnectError | undefined => {
      if (!req.signal.aborted) return undefined;
      const reason: unknown = req.signal.reason;
      if (reason instanceof ConnectError) {
        const copy = new ConnectError(
          reason.rawMessage,
          reason.code,
          undefined,
          undefined,
          cause ?? reason,
        );
        copy.details.push(...reason.details);
        return copy;
      }
      return new ConnectError(
        "the call was cancelled",
        Code.Canceled,
        undefined,
        undefined,
        cause ?? reason,
      );
    };
    /** Why a stream that ended normally was cut short, if it was. */
    const cutShort = (): ConnectError | undefined => {
      const signal = signalled();
      if (signal !== undefined) return signal;
      // Only a server stream's end is the server's choice: a bidi stream (reflection) ends when
      // its client closes its side, which shutdown does not change.
      if (method.methodKind === "server_streaming" && shutdownSignal?.aborted) {
        return new ConnectError("the server is shutting down: retry elsewhere", Code.Unavailable);
      }
      return undefined;
    };

    let done = false;
    /**
     * Counts and logs the end of the call, once. `end` is undefined for OK. A "cut" end (by the
     * call's signal or by shutdown) is no server fault and is logged at info whatever its code;
     * an "unexpected" one (an unmapped error, `err`) at error with its stack. A routine call
     * ({@link routineHeader}) that ended OK is logged at debug.
     */
    const record = (
      end: ConnectError | undefined,
      kind: "handled" | "cut" | "unexpected",
      err?: unknown,
    ): void => {
      if (done) return;
      done = true;
      end?.metadata.set(requestIdHeader, requestId);
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const code = grpcCodeName(end?.code);
      metrics.handled.inc({ ...labels, grpc_code: code });
      metrics.seconds.observe(labels, seconds);
      const line = { rpc, requestId, durationMs: Math.round(seconds * 1e6) / 1e3, code };
      if (kind === "unexpected") logger.error({ ...line, err }, "rpc failed unexpectedly");
      else if (end !== undefined && kind === "handled" && isServerFault(end.code)) {
        logger.warn({ ...line, err: end.cause ?? end }, "rpc failed");
      } else if (routine && end === undefined) logger.debug(line, "rpc");
      else logger.info(line, "rpc");
    };
    /** Maps what a handler threw to what the client sees, and records it. */
    const fail = async (err: unknown): Promise<unknown> => {
      if (done) return err;
      const { error, unexpected } = errors.map(err);
      // A read of a body its client reset can fail before the call's signal hears of the reset.
      if (unexpected && !req.signal.aborted) await settled();
      // A handler that failed because its signal aborted (a read of a cancelled request body, a
      // store call given ctx.signal) failed for the signal's reason: that is what the client saw.
      const signal = signalled(err);
      if (
        signal !== undefined &&
        (unexpected || error.code === Code.Canceled || err === req.signal.reason)
      ) {
        record(signal, "cut");
        return signal;
      }
      record(error, unexpected ? "unexpected" : "handled", err);
      return error;
    };

    let request = req;
    let inputEnded = false;
    if (req.stream) {
      const input = req.message;
      async function* receiving() {
        for await (const m of input) {
          metrics.received.inc(labels);
          yield m;
        }
        inputEnded = true;
      }
      request = { ...req, message: receiving() };
    } else {
      metrics.received.inc(labels);
    }

    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(request);
    } catch (e) {
      throw await fail(e);
    }
    res.header.set(requestIdHeader, requestId);
    if (!res.stream) {
      metrics.sent.inc(labels);
      record(undefined, "handled");
      return res;
    }
    const source = res.message;
    async function* sending() {
      let ended = false;
      try {
        for await (const m of source) {
          metrics.sent.inc(labels);
          yield m;
        }
        ended = true;
      } catch (e) {
        throw await fail(e);
      } finally {
        // The consumer stopped reading (return()): the client went away, or the write failed.
        if (!ended) record(signalled(), "cut");
      }
      // A request stream its client reset ends like one its client closed, before the call's
      // signal hears of the reset: let that news arrive before calling the end natural. (A server
      // stream's single request always ends before the handler starts.)
      if (inputEnded && method.methodKind !== "server_streaming" && !req.signal.aborted) {
        await settled();
      }
      const cut = cutShort();
      record(cut, "cut");
      if (cut !== undefined) throw cut;
    }
    return { ...res, message: sending() };
  };
}

/** Resolves once the events already queued (a stream's reset and close) have been handled. */
function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function isServerFault(code: Code): boolean {
  return (
    code === Code.Internal ||
    code === Code.Unknown ||
    code === Code.DataLoss ||
    code === Code.Unavailable
  );
}
