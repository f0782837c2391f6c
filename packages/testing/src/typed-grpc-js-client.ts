/**
 * A typed, promise-based @grpc/grpc-js client of any service, built from the same protobuf-es
 * descriptors as the generated clients: what a Node service on grpc-js (rather than Connect) sees
 * of the mesh. The wire client itself (makeGenericClientConstructor, toBinary/fromBinary codecs)
 * is the runtime's test adapter; this adds the typing, deadlines, cancellation and async
 * iteration that a test or a benchmark wants.
 *
 * ```ts
 * const sessions = createTypedGrpcJsClient(SessionControllerService, "127.0.0.1:8082");
 * const { session } = await sessions.getSession({ sessionId });
 * for await (const event of sessions.watchSessions({ user: "alice" }, { signal })) { ... }
 * sessions.close();
 * ```
 *
 * Errors are grpc-js's own ServiceError (`code`, `details`, `metadata`); statusDetails() of the
 * runtime's adapter decodes the google.rpc details.
 */
import {
  create,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient } from "./grpc-js-client.js";

export { statusDetails } from "./grpc-js-client.js";

export interface GrpcJsCallOptions {
  /**
   * The call's deadline, from now, in milliseconds.
   * @default the client's timeoutMs
   */
  readonly timeoutMs?: number;
  /** Cancels the call (CANCELLED); a stream being iterated then ends with that error. */
  readonly signal?: AbortSignal;
  /** Request metadata, e.g. { authorization: "Bearer ..." }. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Unary methods as promises, server-streaming ones as async iterables, as connect-es does. */
export type GrpcJsClient<S extends DescService> = {
  [P in keyof S["method"]]: S["method"][P] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageInitShape<I>, options?: GrpcJsCallOptions) => Promise<MessageShape<O>>
    : S["method"][P] extends DescMethodServerStreaming<infer I, infer O>
      ? (
          request: MessageInitShape<I>,
          options?: GrpcJsCallOptions,
        ) => AsyncIterable<MessageShape<O>>
      : never;
} & {
  /** The untyped grpc-js client underneath, for what this wrapper does not cover. */
  readonly raw: grpc.Client;
  /** Closes the channel; calls in flight fail. */
  close(): void;
};

export interface GrpcJsClientOptions {
  /**
   * Deadline of each call that sets none, in milliseconds.
   * @default 30000
   */
  readonly timeoutMs?: number;
}

type Callback = (err: grpc.ServiceError | null, value?: unknown) => void;
type UntypedMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback?: Callback,
) => grpc.ClientUnaryCall | grpc.ClientReadableStream<unknown>;

/** Creates a typed grpc-js client of `service` at `address` (host:port), plaintext HTTP/2. */
export function createTypedGrpcJsClient<S extends DescService>(
  service: S,
  address: string,
  opts: GrpcJsClientOptions = {},
): GrpcJsClient<S> {
  const raw = createGrpcJsClient(service, address);
  const methods = raw as unknown as Record<string, UntypedMethod>;
  const defaultTimeoutMs = opts.timeoutMs ?? 30_000;
  const client: Record<string, unknown> = {
    raw,
    close: () => raw.close(),
  };
  for (const method of service.methods) {
    // The runtime's adapter names each method after its localName; bind keeps grpc-js's `this`.
    const call = methods[method.localName]?.bind(raw);
    if (call === undefined) throw new Error(`grpc-js client lacks ${method.localName}`);
    const prepare = (request: unknown, options: GrpcJsCallOptions = {}) => {
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
      const deadline = new Date(Date.now() + (options.timeoutMs ?? defaultTimeoutMs));
      // create() fills in defaults: toBinary wants a whole message, callers pass init shapes.
      const message = create(method.input, request as MessageInitShape<typeof method.input>);
      return { message, metadata, deadline, signal: options.signal };
    };
    if (method.methodKind === "unary") {
      client[method.localName] = (request: unknown, options?: GrpcJsCallOptions) => {
        const p = prepare(request, options);
        return new Promise((resolve, reject) => {
          const c = call(p.message, p.metadata, { deadline: p.deadline }, (err, value) =>
            err ? reject(err) : resolve(value),
          );
          onAbort(p.signal, () => c.cancel());
        });
      };
    } else if (method.methodKind === "server_streaming") {
      client[method.localName] = (request: unknown, options?: GrpcJsCallOptions) => {
        const p = prepare(request, options);
        return iterate(() => {
          const c = call(p.message, p.metadata, { deadline: p.deadline });
          onAbort(p.signal, () => c.cancel());
          return c as grpc.ClientReadableStream<unknown>;
        });
      };
    }
  }
  return client as GrpcJsClient<S>;
}

function onAbort(signal: AbortSignal | undefined, cancel: () => void): void {
  if (signal === undefined) return;
  if (signal.aborted) cancel();
  else signal.addEventListener("abort", cancel, { once: true });
}

/**
 * A server stream as an async iterable; the call starts when iteration does. grpc-js does not
 * cancel a call when its Readable is destroyed (which is what leaving a for-await does), so
 * leaving the loop cancels it here. The CANCELLED error grpc-js then emits has no reader left: a
 * standing listener absorbs it, or it would be thrown as an unhandled 'error' event.
 */
function iterate<T>(start: () => grpc.ClientReadableStream<T>): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const stream = start();
      stream.on("error", () => {});
      try {
        for await (const message of stream) yield message as T;
      } finally {
        stream.cancel();
      }
    },
  };
}
