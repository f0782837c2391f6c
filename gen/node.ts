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
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
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

/** Creates a typed client of `service` for Node.js. */
export function createNodeClient<S extends DescService>(
  service: S,
  opts: NodeClientOptions,
): Client<S> {
  const interceptors = [...(opts.interceptors ?? [])];
  if (opts.token !== undefined) interceptors.push(bearerInterceptor(opts.token));
  const common = {
    baseUrl: opts.baseUrl,
    defaultTimeoutMs: opts.timeoutMs ?? 10_000,
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
