/**
 * The interceptor placed right after observe: it raises the client mistake the edge adapter found
 * before connect parsed the request (so observe logs and counts it once, with the request id and
 * the code the client sees), and for streamed requests raises it at the message that failed. It
 * also turns connect's "parse binary" INTERNAL into INVALID_ARGUMENT: a malformed message is the
 * client's mistake.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { edgeContextKey } from "./edge-context.js";
import { InvalidBase64Error } from "./grpc-web-text.js";

/** Creates the edge interceptor (see the file comment). */
export function edgeInterceptor(): Interceptor {
  return (next) => async (req) => {
    const ctx = req.contextValues.get(edgeContextKey);
    if (ctx === undefined) return next(req);
    ctx.entered = true;
    const pending = ctx.pendingError;
    if (pending !== undefined) {
      ctx.pendingError = undefined;
      throw pending;
    }
    if (!req.stream) return next(req);
    const source = req.message;
    const call = ctx;
    async function* checked() {
      try {
        for await (const m of source) {
          const failed = call.pendingError;
          if (failed !== undefined) {
            call.pendingError = undefined;
            throw failed;
          }
          yield m;
        }
      } catch (e) {
        throw asClientMistake(e);
      }
    }
    return next({ ...req, message: checked() });
  };
}

/**
 * connect reports a message protobuf-es cannot decode as INTERNAL, and passes a grpc-web-text
 * body that is not base64 on as is: both are the client's mistake, INVALID_ARGUMENT.
 */
export function asClientMistake(e: unknown): unknown {
  if (e instanceof InvalidBase64Error) {
    return new ConnectError(
      `the grpc-web-text body is not base64: ${e.message}`,
      Code.InvalidArgument,
    );
  }
  if (
    e instanceof ConnectError &&
    e.code === Code.Internal &&
    /^parse binary: /.test(e.rawMessage)
  ) {
    return new ConnectError(
      `the request message is not valid protobuf: ${e.rawMessage.slice("parse binary: ".length)}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
  return e;
}
