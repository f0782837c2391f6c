/**
 * JSON logs (pino), one line per event, with the service name on every line. Services never use
 * console.*; they log through this. A peer that cannot be reached (a ConnectError UNAVAILABLE or
 * DEADLINE_EXCEEDED in `err`) is logged as its code and message, without a stack: that is a
 * condition of the network, not a bug, and the mesh starting up meets it routinely.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type Logger, pino } from "pino";
import type { LogLevel } from "./runtime-config.js";

export type { Logger } from "pino";

export interface LoggerOptions {
  readonly service: string;
  /** @default "info" */
  readonly level?: LogLevel;
  /** Where lines go. @default stdout */
  readonly destination?: NodeJS.WritableStream;
}

/** pino's error serializer, without the stack of a peer that cannot be reached. */
function serializeErr(err: unknown): unknown {
  if (
    err instanceof ConnectError &&
    (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded)
  ) {
    return { type: "ConnectError", code: Code[err.code], message: err.message };
  }
  return pino.stdSerializers.err(err as Error);
}

/** Creates the service logger. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeErr },
      redact: { paths: ["authorization", "*.authorization", "token"], censor: "[redacted]" },
    },
    opts.destination ?? process.stdout,
  );
}
