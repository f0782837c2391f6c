/**
 * connectrpc.conformance.v1.ConformanceService on dynamic messages, as the suite's
 * docs/testing_servers.md describes it: every response echoes what the server saw (headers,
 * timeout, the requests as Any, Connect GET query parameters), response definitions set headers,
 * trailers, data, delays and errors with details. Unimplemented is left out on purpose: the
 * router answers it UNIMPLEMENTED, which is what the suite checks.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { ConformanceSchema } from "./conformance-schema.js";
import type {
  ErrorShape,
  HeaderShape,
  StreamRequestShape,
  UnaryRequestShape,
  UnaryResponseDefinitionShape,
} from "./conformance-shapes.js";

/** Registers the ConformanceService of `schema` on a router (JSON resolves Any via its registry). */
export function conformanceRoutes(schema: ConformanceSchema): (router: ConnectRouter) => void {
  const requestInfoSchema = schema.message("ConformancePayload.RequestInfo");
  const methods = new Map(schema.service.methods.map((m) => [m.name, m]));
  const inputOf = (name: string): DescMessage => {
    const method = methods.get(name);
    if (method === undefined) throw new Error(`ConformanceService has no method ${name}`);
    return method.input;
  };

  /** What the server observed of the call so far. */
  const requestInfo = (call: CallView, requests: readonly Message[]): Message =>
    create(requestInfoSchema, {
      requestHeaders: call.headers,
      timeoutMs: call.timeoutMs,
      requests: requests.map((r) => anyPack(call.input, r)),
      connectGetInfo:
        call.queryParams === undefined ? undefined : { queryParams: call.queryParams },
    });

  /** The requested error, with the request info appended to its details when given. */
  const conformanceError = (def: ErrorShape, info?: Message): ConnectError => {
    const error = new ConnectError(
      def.message ?? "",
      def.code as Code,
      undefined,
      info === undefined ? undefined : [{ desc: requestInfoSchema, value: info }],
    );
    // Details arrive as Any; passed through as they came (type name and bytes), in order, before
    // the request info.
    error.details.unshift(
      ...def.details.map((any) => ({
        type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1),
        value: any.value,
      })),
    );
    return error;
  };

  /** Unary, IdempotentUnary and ClientStream: one response or one error. */
  const unaryPayload = async (
    call: CallView,
    ctx: HandlerContext,
    def: UnaryResponseDefinitionShape | undefined,
    requests: readonly Message[],
  ) => {
    rejectRawResponse(def);
    const info = requestInfo(call, requests);
    if (def === undefined) return { requestInfo: info };
    addHeaders(def.responseHeaders, ctx.responseHeader);
    addHeaders(def.responseTrailers, ctx.responseTrailer);
    if (def.response.case === "error") throw conformanceError(def.response.value, info);
    await delay(def.responseDelayMs, ctx);
    return {
      requestInfo: info,
      data: def.response.case === "responseData" ? def.response.value : undefined,
    };
  };

  const impl = {
    async unary(req: UnaryRequestShape, ctx: HandlerContext) {
      const call = observe(ctx, inputOf("Unary"));
      return { payload: await unaryPayload(call, ctx, req.responseDefinition, [req]) };
    },

    async idempotentUnary(req: UnaryRequestShape, ctx: HandlerContext) {
      const call = observe(ctx, inputOf("IdempotentUnary"));
      return { payload: await unaryPayload(call, ctx, req.responseDefinition, [req]) };
    },

    async clientStream(reqs: AsyncIterable<UnaryRequestShape>, ctx: HandlerContext) {
      const call = observe(ctx, inputOf("ClientStream"));
      const requests: UnaryRequestShape[] = [];
      for await (const req of reqs) requests.push(req);
      const def = requests[0]?.responseDefinition;
      return { payload: await unaryPayload(call, ctx, def, requests) };
    },

    async *serverStream(req: StreamRequestShape, ctx: HandlerContext) {
      const call = observe(ctx, inputOf("ServerStream"));
      const def = req.responseDefinition;
      if (def === undefined) return;
      rejectRawResponse(def);
      addHeaders(def.responseHeaders, ctx.responseHeader);
      addHeaders(def.responseTrailers, ctx.responseTrailer);
      let sent = 0;
      for (const data of def.responseData) {
        const info = sent === 0 ? requestInfo(call, [req]) : undefined;
        await delay(def.responseDelayMs, ctx);
        yield { payload: { data, requestInfo: info } };
        sent++;
      }
      if (def.error !== undefined) {
        throw conformanceError(def.error, sent === 0 ? requestInfo(call, [req]) : undefined);
      }
    },

    async *bidiStream(reqs: AsyncIterable<StreamRequestShape>, ctx: HandlerContext) {
      const call = observe(ctx, inputOf("BidiStream"));
      let def: StreamRequestShape["responseDefinition"];
      let fullDuplex = false;
      let first = true;
      let sent = 0;
      // Full duplex: the requests since the last response; half duplex: all of them.
      let requests: StreamRequestShape[] = [];
      for await (const req of reqs) {
        requests.push(req);
        if (first) {
          first = false;
          def = req.responseDefinition;
          fullDuplex = req.fullDuplex === true;
          rejectRawResponse(def);
          if (def !== undefined) {
            addHeaders(def.responseHeaders, ctx.responseHeader);
            addHeaders(def.responseTrailers, ctx.responseTrailer);
          }
        }
        if (!fullDuplex) continue;
        const data = def?.responseData[sent];
        if (data === undefined) break;
        const info =
          sent === 0
            ? requestInfo(call, requests)
            : create(requestInfoSchema, {
                requests: requests.map((r) => anyPack(call.input, r)),
              });
        await delay(def?.responseDelayMs ?? 0, ctx);
        yield { payload: { data, requestInfo: info } };
        sent++;
        requests = [];
      }
      if (def === undefined) return;
      // Half duplex, or full duplex with more responses than requests: send what is left.
      for (; sent < def.responseData.length; sent++) {
        const info = sent === 0 ? requestInfo(call, requests) : undefined;
        await delay(def.responseDelayMs, ctx);
        yield { payload: { data: def.responseData[sent], requestInfo: info } };
      }
      if (def.error !== undefined) {
        throw conformanceError(def.error, sent === 0 ? requestInfo(call, requests) : undefined);
      }
    },
  };

  return (router) => {
    router.service(schema.service, impl as unknown as Partial<ServiceImpl<typeof schema.service>>, {
      jsonOptions: { registry: schema.registry },
    });
  };
}

/** What a call looked like when its handler started. */
interface CallView {
  readonly input: DescMessage;
  readonly headers: HeaderShape[];
  /** The time left when the handler started, as the deadline the client set. */
  readonly timeoutMs: bigint | undefined;
  /** Set for a Connect GET: the URL's query parameters. */
  readonly queryParams: HeaderShape[] | undefined;
}

function observe(ctx: HandlerContext, input: DescMessage): CallView {
  const headers: HeaderShape[] = [];
  ctx.requestHeader.forEach((value, name) => {
    headers.push({ name, value: [value] });
  });
  const timeout = ctx.timeoutMs();
  let queryParams: HeaderShape[] | undefined;
  if (ctx.requestMethod === "GET") {
    const grouped = new Map<string, string[]>();
    for (const [name, value] of new URL(ctx.url, "http://localhost").searchParams) {
      grouped.set(name, [...(grouped.get(name) ?? []), value]);
    }
    queryParams = [...grouped].map(([name, value]) => ({ name, value }));
  }
  return {
    input,
    headers,
    timeoutMs: timeout === undefined ? undefined : BigInt(Math.round(timeout)),
    queryParams,
  };
}

function addHeaders(headers: readonly HeaderShape[], target: Headers): void {
  for (const h of headers) {
    for (const v of h.value) target.append(h.name, v);
  }
}

/** Waits `ms`, ending early (with the call's reason) when the call is cancelled or times out. */
async function delay(ms: number, ctx: HandlerContext): Promise<void> {
  if (ms <= 0) return;
  await sleep(ms, undefined, { signal: ctx.signal }).catch(() => {
    throw ConnectError.from(ctx.signal.reason);
  });
}

/** raw_response is for the suite's reference server only; a server under test refuses it. */
function rejectRawResponse(def: { readonly rawResponse?: Message } | undefined): void {
  if (def?.rawResponse !== undefined) {
    throw new ConnectError("raw_response is only for the reference server", Code.InvalidArgument);
  }
}
