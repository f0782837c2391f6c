/**
 * JSON logs (pino), one line per event, with the service name on every line. Services never use
 * console.*; they log through this.
 */
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

/** Creates the service logger. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ["authorization", "*.authorization", "token"], censor: "[redacted]" },
    },
    opts.destination ?? process.stdout,
  );
}
