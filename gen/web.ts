/**
 * Clients of the Lucid RDP services for browsers: Connect (JSON by default, so calls are readable
 * in devtools) or gRPC-web, over fetch.
 *
 * ```ts
 * import { createWebClient } from "@lucid-rdp/gen/web";
 * import { SessionControllerService } from "@lucid-rdp/gen";
 * const sessions = createWebClient(SessionControllerService, { baseUrl: location.origin });
 * ```
 */
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { bearerInterceptor, type TokenSource } from "./bearer.js";

export interface WebClientOptions {
  readonly baseUrl: string;
  /** @default "connect" */
  readonly protocol?: "connect" | "grpc-web";
  /** Binary protobuf instead of JSON. @default false */
  readonly useBinaryFormat?: boolean;
  /** A bearer token, or a function returning one, sent on every call. */
  readonly token?: TokenSource;
  /** Use HTTP GET for side-effect-free unary calls (Connect only; cacheable). @default true */
  readonly useHttpGet?: boolean;
  readonly interceptors?: readonly Interceptor[];
}

/** Creates a typed client of `service` for browsers. */
export function createWebClient<S extends DescService>(
  service: S,
  opts: WebClientOptions,
): Client<S> {
  const interceptors = [...(opts.interceptors ?? [])];
  if (opts.token !== undefined) interceptors.push(bearerInterceptor(opts.token));
  const common = {
    baseUrl: opts.baseUrl,
    useBinaryFormat: opts.useBinaryFormat ?? false,
    interceptors,
  };
  const transport =
    (opts.protocol ?? "connect") === "connect"
      ? createConnectTransport({ ...common, useHttpGet: opts.useHttpGet ?? true })
      : createGrpcWebTransport(common);
  return createClient(service, transport);
}
