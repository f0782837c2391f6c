/**
 * Per-call observability: the go-grpc-prometheus metrics (grpc_server_started_total,
 * grpc_server_handled_total, grpc_server_handling_seconds) and one JSON log line per call with
 * service, rpc, request id, duration and code. Errors are mapped to ConnectErrors here, the one
 * place at the edge, so that metrics and logs see the code the client sees. Streams are counted
 * when they end.
 */
import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";
import type { ErrorMapper } from "./errors.js";
import type { Logger } from "./logger.js";

/** The header carrying a caller's request id; echoed in the response. */
export const requestIdHeader = "x-request-id";

export interface RpcMetrics {
  readonly started: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  readonly handled: Counter<"grpc_type" | "grpc_service" | "grpc_method" | "grpc_code">;
  readonly seconds: Histogram<"grpc_type" | "grpc_service" | "grpc_method">;
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

/** Creates the outermost server interceptor. */
export function observeInterceptor(opts: {
  metrics: RpcMetrics;
  logger: Logger;
  errors: ErrorMapper;
}): Interceptor {
  const { metrics, logger, errors } = opts;
  return (next) => async (req) => {
    const method: DescMethod = req.method;
    const labels = {
      grpc_type: grpcTypes[method.methodKind],
      grpc_service: method.parent.typeName,
      grpc_method: method.name,
    };
    const rpc = `${method.parent.typeName}/${method.name}`;
    const requestId = req.header.get(requestIdHeader) ?? randomUUID();
    const startedAt = process.hrtime.bigint();
    metrics.started.inc(labels);
    let done = false;
    const finish = (err: unknown): ConnectError | undefined => {
      if (done) return undefined;
      done = true;
      let mapped: ConnectError | undefined;
      let unexpected = false;
      if (err !== undefined) {
        const m = errors.map(err);
        mapped = m.error;
        unexpected = m.unexpected;
        mapped.metadata.set(requestIdHeader, requestId);
      }
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const code = grpcCodeName(mapped?.code);
      metrics.handled.inc({ ...labels, grpc_code: code });
      metrics.seconds.observe(labels, seconds);
      const line = { rpc, requestId, durationMs: Math.round(seconds * 1e6) / 1e3, code };
      if (unexpected) logger.error({ ...line, err }, "rpc failed unexpectedly");
      else if (mapped !== undefined && isServerFault(mapped.code)) {
        logger.warn({ ...line, err: mapped.cause ?? mapped }, "rpc failed");
      } else logger.info(line, "rpc");
      return mapped;
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (e) {
      throw finish(e) ?? e;
    }
    res.header.set(requestIdHeader, requestId);
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    const source = res.message;
    async function* counted() {
      try {
        yield* source;
      } catch (e) {
        throw finish(e) ?? e;
      } finally {
        // A stream ends normally, or the client went away (return() from the consumer).
        finish(undefined);
      }
    }
    return { ...res, message: counted() };
  };
}

function isServerFault(code: Code): boolean {
  return (
    code === Code.Internal ||
    code === Code.Unknown ||
    code === Code.DataLoss ||
    code === Code.Unavailable
  );
}
