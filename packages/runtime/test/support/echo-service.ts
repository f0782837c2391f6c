/** The runtime's test service: every call shape the runtime must serve. */
import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { errorWithInfo, invalidArgument } from "../../src/errors.js";
import {
  EchoResponseSchema,
  EchoService,
  EchoStreamResponseSchema,
  SlowResponseSchema,
  TicksResponseSchema,
} from "../../src/gen/lucid/rdp/testing/v1/echo_service_pb.js";

export { EchoService };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}

/** What EchoService needs from the server it runs in. */
export interface EchoRoutesOptions {
  /** The server's shutdown signal, once it runs: Ticks ends on it. @default none */
  readonly shutdownSignal?: () => AbortSignal | undefined;
}

/** Resolves after `ms`, or when `signal` aborts (without rejecting). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Registers EchoService. */
export function echoRoutes(router: ConnectRouter, opts: EchoRoutesOptions = {}): void {
  router.service(EchoService, {
    echo(req) {
      return create(EchoResponseSchema, { message: req.message });
    },
    async *echoStream(req, ctx) {
      for (let i = 0; i < req.count; i++) {
        if (i > 0 && req.intervalMs > 0) await sleep(req.intervalMs, ctx.signal);
        yield create(EchoStreamResponseSchema, { message: req.message, index: i });
      }
    },
    async *ticks(req, ctx) {
      // As the services' Watch handlers do: stop on the call's signal or the server's shutdown
      // signal, and return normally.
      const stop = opts.shutdownSignal?.();
      const signal = stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal;
      for (let i = 0; !signal.aborted; i++) {
        yield create(TicksResponseSchema, { index: i });
        await pause(req.intervalMs, signal);
      }
    },
    fail(req) {
      if (req.code === Code.InvalidArgument) {
        throw invalidArgument([{ field: "code", description: "asked to fail" }]);
      }
      if (req.code === Code.Internal) {
        // An unexpected error: the client must see only "internal error".
        throw new Error("secret internal detail: db password is hunter2");
      }
      throw errorWithInfo(`failing with ${Code[req.code]}`, req.code as Code, "ASKED_TO_FAIL", {
        code: String(req.code),
      });
    },
    async slow(req, ctx) {
      const started = Date.now();
      await sleep(req.delayMs, ctx.signal);
      return create(SlowResponseSchema, { waitedMs: Date.now() - started });
    },
  });
}
