import { PassThrough } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

/** The JSON line `log` wrote through a fresh logger. */
function lineOf(log: (logger: ReturnType<typeof createLogger>) => void): Record<string, unknown> {
  const sink = new PassThrough();
  const logger = createLogger({ service: "test", destination: sink });
  log(logger);
  return JSON.parse(String(sink.read())) as Record<string, unknown>;
}

describe("createLogger()", () => {
  it("logs a peer that is not reachable (UNAVAILABLE, DEADLINE_EXCEEDED) without a stack", () => {
    for (const code of [Code.Unavailable, Code.DeadlineExceeded]) {
      const err = new ConnectError("connect ECONNREFUSED 127.0.0.1:8081", code);
      const line = lineOf((l) => l.warn({ err }, "peer down"));
      expect(line.err).toEqual({
        type: "ConnectError",
        code: Code[code],
        message: err.message,
      });
    }
  });

  it("keeps the stack of any other error", () => {
    const line = lineOf((l) => l.error({ err: new Error("boom") }, "bug"));
    expect((line.err as { stack?: string }).stack).toMatch(/\n\s+at /);
  });
});
