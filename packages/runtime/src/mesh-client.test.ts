import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { peerLossInterceptor } from "@lucid-rdp/gen/node";
import { describe, expect, it } from "vitest";
import { EchoService } from "./gen/lucid/rdp/testing/v1/echo_service_pb.js";
import { retryInterceptor } from "./mesh-client.js";

/** A peer whose methods fail with `code` the first `failures` times. */
function flakyPeer(failures: number, code: Code, extra: Interceptor[] = []) {
  const calls = { echo: 0, slow: 0 };
  const transport = createRouterTransport(
    (router) => {
      router.service(EchoService, {
        echo(req) {
          calls.echo++;
          if (calls.echo <= failures) throw new ConnectError("peer restarting", code);
          return { message: req.message };
        },
        slow() {
          calls.slow++;
          if (calls.slow <= failures) throw new ConnectError("peer restarting", code);
          return { waitedMs: 0 };
        },
      });
    },
    {
      transport: {
        interceptors: [retryInterceptor({ maxAttempts: 3, backoffMs: 1 }), ...extra],
      },
    },
  );
  return { client: createClient(EchoService, transport), calls };
}

describe("retryInterceptor()", () => {
  it("retries an idempotent (NO_SIDE_EFFECTS) call on UNAVAILABLE", async () => {
    const { client, calls } = flakyPeer(2, Code.Unavailable);
    expect((await client.echo({ message: "m" })).message).toBe("m");
    expect(calls.echo).toBe(3);
  });

  it("gives up after maxAttempts", async () => {
    const { client, calls } = flakyPeer(5, Code.Unavailable);
    const err = ConnectError.from(await client.echo({ message: "m" }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.Unavailable);
    expect(calls.echo).toBe(3);
  });

  it("never retries a method that is not idempotent", async () => {
    const { client, calls } = flakyPeer(1, Code.Unavailable);
    await client.slow({ delayMs: 0 }).catch(() => undefined);
    expect(calls.slow).toBe(1);
  });

  it("never retries other codes", async () => {
    const { client, calls } = flakyPeer(1, Code.Internal);
    await client.echo({ message: "m" }).catch(() => undefined);
    expect(calls.echo).toBe(1);
  });

  it("retries a call that is not idempotent when the peer never ran it (REFUSED_STREAM)", async () => {
    let refusals = 1;
    // What Node reports for a stream the server refused after its GOAWAY: the call never ran.
    const refuseOnce: Interceptor = (next) => async (req) => {
      if (refusals-- > 0) {
        throw new ConnectError(
          "stream reset",
          Code.Internal,
          undefined,
          undefined,
          new Error("Stream closed with error code NGHTTP2_REFUSED_STREAM"),
        );
      }
      return next(req);
    };
    const { client, calls } = flakyPeer(0, Code.Unavailable, [peerLossInterceptor(), refuseOnce]);
    expect((await client.slow({ delayMs: 0 })).waitedMs).toBe(0);
    expect(calls.slow).toBe(1);
    expect(refusals).toBe(-1);
  });
});
