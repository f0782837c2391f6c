/**
 * The runtime's own Node adapter for connect: it replaces connect-node's connectNodeAdapter, which
 * hands every request straight to connect. connect reads, inflates and parses a unary request
 * before any interceptor runs, so with connectNodeAdapter:
 * - auth (an interceptor) is decided only after a body was read and inflated;
 * - a malformed message is INTERNAL / HTTP 500, JSON is decoded leniently (unknown fields and
 *   enum names ignored, invalid UTF-8 replaced), and a bad GET base64 is INTERNAL too;
 * - errors raised before the interceptors leave no log line, no metric and no x-request-id;
 * - a timeout of 2^31 ms or more ends the call at once (setTimeout overflow);
 * - application/grpc-web-text is refused with 415.
 * This adapter decides auth before the body is touched, reads a unary message itself under the
 * size limits (before and while inflating), parses it strictly, clamps timeouts, serves
 * grpc-web-text, and reports what connect still refuses by itself. A client mistake found here is
 * recorded in the call's edge context, the request is made harmless (connect gets an empty message,
 * never the real body), and the edge interceptor raises the mistake inside the interceptor chain.
 * Everything else (protocol negotiation, serialization, envelopes) stays connect's.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type Http2ServerRequest,
  type Http2ServerResponse,
  constants as http2Constants,
} from "node:http2";
import { type DescMethod, fromBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createConnectRouter,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { invalidArgument } from "../errors.js";
import { clampTimeouts } from "./clamp-timeout.js";
import { type EdgeContext, edgeContextKey, edgeStorage } from "./edge-context.js";
import {
  binaryTypeOfText,
  decodeBase64Body,
  encodeBase64Body,
  InvalidBase64Error,
  textTypeOfBinary,
} from "./grpc-web-text.js";
import { locateBinary } from "./locate-binary.js";
import { canInflate, inflate, readSingleMessage } from "./read-single-message.js";
import { refusedCode } from "./refused-code.js";
import { decodeJsonStrict } from "./strict-json.js";
import { type WireFormat, wireFormatOf } from "./wire-format.js";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** A call connect answered without entering the interceptors. */
export interface RefusedCall {
  readonly method: DescMethod;
  readonly requestId: string;
  /** The code the client saw; undefined for OK. */
  readonly code: Code | undefined;
  readonly durationMs: number;
}

export interface EdgeAdapterOptions {
  /** Registers every RPC served. */
  readonly routes: (router: ConnectRouter) => void;
  /** The interceptors, outermost first; edgeInterceptor() must be among them, right after observe. */
  readonly interceptors: readonly Interceptor[];
  /** The largest message accepted, before and after decompression (bytes). */
  readonly maxMessageBytes: number;
  /** Cancels every in-flight handler when aborted. */
  readonly shutdownSignal?: AbortSignal;
  /** Answers a path no RPC serves. */
  readonly fallback: (req: NodeRequest, res: NodeResponse) => void;
  /**
   * Decides auth from the request headers before the body is read: resolves (after storing the
   * principal in `values`) or throws the ConnectError the client gets. @default no auth
   */
  readonly authorize?: (
    method: DescMethod,
    header: Headers,
    values: ContextValues,
  ) => Promise<void>;
  /** Told about each call connect refused before the interceptors (logging, metrics). */
  readonly onRefused?: (call: RefusedCall) => void;
  /** Told about a failure of the adapter itself (a bug, or a write to a vanished client). */
  readonly onError?: (err: unknown, method: DescMethod) => void;
}

/** The request header carrying the call's request id. */
const requestIdHeader = "x-request-id";
/** How much of a refused response is kept to read its code. */
const refusalInspectBytes = 64 * 1024;

/** Creates the Node request handler serving every RPC of `routes`. */
export function createEdgeAdapter(
  opts: EdgeAdapterOptions,
): (req: NodeRequest, res: NodeResponse) => void {
  const limit = opts.maxMessageBytes;
  const router = createConnectRouter({
    interceptors: [...opts.interceptors],
    shutdownSignal: opts.shutdownSignal,
    acceptCompression: [compressionGzip, compressionBrotli],
    readMaxBytes: limit,
    // connect passes textDecoder through to its JSON serialization (its type does not say so): it
    // is how streamed JSON messages get the strict parse. Unary ones were parsed by the adapter.
    jsonOptions: { textDecoder: strictTextDecoder } as object,
  });
  opts.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const h of router.handlers) paths.set(h.requestPath, h);

  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (handler === undefined) {
      opts.fallback(req, res);
      return;
    }
    serve(handler, req, res).catch((e: unknown) => {
      if (
        ConnectError.from(e).code === Code.Aborted ||
        ConnectError.from(e).code === Code.Canceled
      ) {
        return;
      }
      opts.onError?.(e, handler.method);
      // Never leave the client waiting on a response nobody will write.
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end();
      } else if (!res.writableEnded) {
        res.destroy();
      }
    });
  };

  async function serve(handler: UniversalHandler, req: NodeRequest, res: NodeResponse) {
    const startedAt = process.hrtime.bigint();
    stopUnreadBodyOnceAnswered(req, res);
    const values = createContextValues();
    const uReq = universalRequestFromNodeRequest(req, res, undefined, values);
    // connect stops reading a body it refused (e.g. a message over the limit) by returning from
    // its iterator; connect-node's iterator then destroys the request, and on HTTP/1.1 that
    // destroys the socket: the client reads a reset instead of the error. This one stops without
    // destroying: Node discards the rest of the body once the response is sent (HTTP/1.1), and
    // HTTP/2 resets the stream with NO_ERROR (stopUnreadBodyOnceAnswered).
    uReq.body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
    const requestId = uReq.header.get(requestIdHeader) ?? randomUUID();
    uReq.header.set(requestIdHeader, requestId);
    clampTimeouts(uReq.header);
    const textType = binaryTypeOfText(uReq.header.get("content-type"));
    if (textType !== undefined) {
      uReq.header.set("content-type", textType);
      uReq.body = decodeBase64Body(uReq.body as AsyncIterable<Uint8Array>);
    }
    const ctx: EdgeContext = {
      requestId,
      method: handler.method,
      pendingError: undefined,
      entered: false,
      bodyChecked: false,
    };
    values.set(edgeContextKey, ctx);
    await edgeStorage.run(ctx, async () => {
      let call = uReq;
      if (opts.authorize !== undefined) {
        try {
          await opts.authorize(handler.method, uReq.header, values);
        } catch (e) {
          ctx.pendingError = ConnectError.from(e, Code.Unauthenticated);
        }
      }
      const format = wireFormatOf(uReq.method, uReq.url, uReq.header);
      if (
        ctx.pendingError === undefined &&
        format !== undefined &&
        handler.method.methodKind === "unary"
      ) {
        call = await checkUnary(call, format, ctx);
      }
      if (ctx.pendingError !== undefined && format !== undefined) call = harmless(call, format);
      const uRes = await handler(call);
      await universalResponseToNodeResponse(
        respond(uRes, ctx, textType !== undefined, startedAt),
        res,
      );
    });
  }

  /** Reads, inflates and strictly parses the message of a unary call; records a mistake. */
  async function checkUnary(
    uReq: UniversalServerRequest,
    format: WireFormat,
    ctx: EdgeContext,
  ): Promise<UniversalServerRequest> {
    try {
      let message: Uint8Array;
      if (format.get) {
        if (!canInflate(format.encoding)) return uReq;
        message = await inflate(queryMessage(uReq.url, limit), format.encoding, limit);
      } else {
        const read = await readSingleMessage(
          uReq.body as AsyncIterable<Uint8Array>,
          format,
          uReq.header.get("content-length"),
          limit,
        );
        // connect gets the body as it came (it inflates and parses again, now known to be safe).
        uReq = { ...uReq, body: oneChunk(read.raw) };
        if (read.kind === "unchecked") return uReq;
        message = read.message;
      }
      parseStrict(ctx.method, format.json, message);
      ctx.bodyChecked = true;
    } catch (e) {
      ctx.pendingError = uReq.signal.aborted
        ? new ConnectError("the client cancelled the request", Code.Canceled)
        : e instanceof InvalidBase64Error
          ? new ConnectError(
              `the grpc-web-text body is not base64: ${e.message}`,
              Code.InvalidArgument,
            )
          : ConnectError.from(e, Code.InvalidArgument);
    }
    return uReq;
  }

  /** Wraps the response: x-request-id, grpc-web-text encoding, and the refusal report. */
  function respond(
    uRes: UniversalServerResponse,
    ctx: EdgeContext,
    text: boolean,
    startedAt: bigint,
  ): UniversalServerResponse {
    const header = new Headers(uRes.header);
    header.set(requestIdHeader, ctx.requestId);
    if (text) {
      const type = header.get("content-type");
      if (type !== null) header.set("content-type", textTypeOfBinary(type));
    }
    const report = () => {
      if (ctx.entered) return undefined;
      return (code: Code | undefined) =>
        opts.onRefused?.({
          method: ctx.method,
          requestId: ctx.requestId,
          code,
          durationMs: Number(process.hrtime.bigint() - startedAt) / 1e6,
        });
    };
    let body = uRes.body;
    if (body === undefined) {
      report()?.(refusedCode(uRes.status, header, uRes.trailer, new Uint8Array(0)));
    } else {
      body = tapRefusal(
        body,
        () => !ctx.entered,
        () => report(),
        (bytes) => refusedCode(uRes.status, header, uRes.trailer, bytes),
      );
      if (text) body = encodeBase64Body(body);
    }
    return { ...uRes, header, body };
  }
}

/**
 * Passes a response body through; when the call never entered the interceptors, keeps its first
 * bytes and reports the code they carry once the body ended.
 */
async function* tapRefusal(
  body: AsyncIterable<Uint8Array>,
  refused: () => boolean,
  reporter: () => ((code: Code | undefined) => void) | undefined,
  codeOf: (bytes: Uint8Array) => Code | undefined,
): AsyncGenerator<Uint8Array> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  for await (const chunk of body) {
    if (refused() && keptBytes < refusalInspectBytes) {
      kept.push(chunk);
      keptBytes += chunk.byteLength;
    }
    yield chunk;
  }
  reporter()?.(codeOf(Buffer.concat(kept)));
}

/**
 * Once a response is complete while its request body is not (an error before the last message,
 * e.g. a message over the limit), the rest of the body is read and discarded: a client blocked on
 * HTTP/2 flow control (it sent more than the window) would otherwise wait for us forever, and we
 * for it to end its side.
 */
function stopUnreadBodyOnceAnswered(req: NodeRequest, res: NodeResponse): void {
  const stream = (req as Http2ServerRequest).stream as Http2ServerRequest["stream"] | undefined;
  if (stream === undefined) {
    // HTTP/1.1: Node discards an unread body only if nobody read from it; we did.
    res.once("finish", () => {
      if (!req.complete && !req.destroyed) req.resume();
    });
    return;
  }
  stream.once("wantTrailers", () => {
    // The compat layer's own listener ran first and queued the trailers for the next turn
    // (Node writes them in a setImmediate): reset after them, never instead of them.
    setImmediate(() => {
      if (!req.complete && !stream.closed && !stream.destroyed) {
        stream.close(http2Constants.NGHTTP2_NO_ERROR);
      }
    });
  });
}

async function* oneChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

const textEncoder = new TextEncoder();

/** The message of a Connect GET request, base64 checked strictly. */
function queryMessage(url: string, limit: number): Uint8Array {
  const q = new URL(url).searchParams;
  const message = q.get("message") ?? "";
  let bytes: Uint8Array;
  if (q.get("base64") === "1") {
    const m = /^[A-Za-z0-9+/_-]*={0,2}$/.exec(message);
    if (m === null || message.replace(/=+$/, "").length % 4 === 1) {
      throw new ConnectError("the message query parameter is not base64", Code.InvalidArgument);
    }
    bytes = new Uint8Array(Buffer.from(message, "base64"));
  } else {
    bytes = textEncoder.encode(message);
  }
  if (bytes.byteLength > limit) {
    throw new ConnectError(
      `the request message is larger than ${limit} bytes`,
      Code.ResourceExhausted,
    );
  }
  return bytes;
}

/** Parses one request message strictly; throws INVALID_ARGUMENT. */
function parseStrict(method: DescMethod, json: boolean, message: Uint8Array): void {
  if (json) {
    decodeJsonStrict(method.input, message);
    return;
  }
  try {
    fromBinary(method.input, message);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const field = locateBinary(method.input, message);
    if (field !== undefined) {
      const utf8 = /utf-8/i.test(why);
      throw invalidArgument(
        [{ field, description: utf8 ? "not valid UTF-8" : `malformed protobuf (${why})` }],
        e,
      );
    }
    throw new ConnectError(
      `the request message is not valid protobuf: ${why}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
}

/**
 * The request connect gets when the edge already knows the answer: an empty message in the same
 * protocol, with no compression, so nothing of the real body is ever read.
 */
function harmless(uReq: UniversalServerRequest, format: WireFormat): UniversalServerRequest {
  const header = new Headers(uReq.header);
  for (const h of [
    "content-length",
    "content-encoding",
    "connect-content-encoding",
    "grpc-encoding",
  ]) {
    header.delete(h);
  }
  let url = uReq.url;
  if (format.get) {
    const u = new URL(url);
    for (const p of ["message", "base64", "compression"]) u.searchParams.delete(p);
    u.searchParams.set("message", format.json ? "{}" : "");
    url = u.toString();
  }
  const body = format.enveloped ? new Uint8Array(5) : new Uint8Array(0);
  return { ...uReq, url, header, body: oneChunk(body) };
}

/**
 * The JSON decoder connect uses for request messages: strict for streamed messages (a failure is
 * recorded for the edge interceptor, which raises it at that message), "{}" while a mistake is
 * pending so connect never sees the real content.
 */
const strictTextDecoder = {
  decode(bytes?: Uint8Array): string {
    const data = bytes ?? new Uint8Array(0);
    const ctx = edgeStorage.getStore();
    if (ctx === undefined) return Buffer.from(data).toString("utf8");
    if (ctx.pendingError !== undefined) return "{}";
    if (ctx.bodyChecked) return Buffer.from(data).toString("utf8");
    try {
      return decodeJsonStrict(ctx.method.input, data);
    } catch (e) {
      ctx.pendingError = ConnectError.from(e, Code.InvalidArgument);
      return "{}";
    }
  },
};
