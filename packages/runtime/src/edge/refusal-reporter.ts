/**
 * Logs and counts a call connect refused before the interceptors, as observe does for every other
 * call: one log line with the request id and code, and the grpc_server_* metrics with the code the
 * client saw.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import type { Logger } from "../logger.js";
import { grpcCodeName, type RpcMetrics } from "../observe.js";
import type { RefusedCall } from "./node-adapter.js";

// observe.ts keeps its own copy private; go-grpc-prometheus's grpc_type label values.
const grpcTypes: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** Creates the `onRefused` callback of the edge adapter. */
export function createRefusalReporter(opts: {
  metrics: RpcMetrics;
  logger: Logger;
}): (call: RefusedCall) => void {
  const { metrics, logger } = opts;
  return (call) => {
    const labels = {
      grpc_type: grpcTypes[call.method.methodKind],
      grpc_service: call.method.parent.typeName,
      grpc_method: call.method.name,
    };
    const code = grpcCodeName(call.code);
    metrics.started.inc(labels);
    metrics.handled.inc({ ...labels, grpc_code: code });
    metrics.seconds.observe(labels, call.durationMs / 1000);
    logger.info(
      {
        rpc: `${labels.grpc_service}/${labels.grpc_method}`,
        requestId: call.requestId,
        durationMs: Math.round(call.durationMs * 1000) / 1000,
        code,
      },
      "rpc refused by the protocol layer",
    );
  };
}
