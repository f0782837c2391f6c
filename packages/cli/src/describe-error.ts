/**
 * A failed call as the operator reads it on stderr, and the exit code: the gRPC code's number.
 * The details the runtime attaches (packages/runtime/src/errors.ts: ErrorInfo, BadRequest; and
 * RetryInfo, PreconditionFailure, QuotaFailure, ResourceInfo, Help from any google.rpc sender)
 * are decoded into lines under the message.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  HelpSchema,
  PreconditionFailureSchema,
  QuotaFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "@lucid-rdp/runtime/error-details";
import { formatDuration } from "./format/duration.js";
import { UsageError } from "./usage-error.js";

/** Which service a failed call went to, for the hint of UNAVAILABLE. */
export interface CallTarget {
  readonly service: string;
  readonly url: string;
}

/** What to print and how to exit. */
export interface DescribedError {
  readonly text: string;
  readonly exitCode: number;
}

/** UPPER_SNAKE name of a Connect code: NOT_FOUND for Code.NotFound. */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** `err` as lines for stderr and its exit code (2 for usage errors, 1 for anything else). */
export function describeError(err: unknown, target?: CallTarget): DescribedError {
  if (err instanceof UsageError) return { text: `error: ${err.message}`, exitCode: 2 };
  if (!(err instanceof ConnectError)) {
    const message = err instanceof Error ? err.message : String(err);
    return { text: `error: ${message}`, exitCode: 1 };
  }
  const lines = [`error: ${codeName(err.code)}: ${err.rawMessage}`];
  for (const info of err.findDetails(ErrorInfoSchema)) {
    const meta = Object.entries(info.metadata)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    lines.push(`  reason: ${info.reason}${meta === "" ? "" : ` (${meta})`}`);
  }
  for (const bad of err.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) lines.push(`  field ${v.field}: ${v.description}`);
  }
  for (const pre of err.findDetails(PreconditionFailureSchema)) {
    for (const v of pre.violations) {
      lines.push(`  precondition ${v.type}${v.subject ? ` ${v.subject}` : ""}: ${v.description}`);
    }
  }
  for (const quota of err.findDetails(QuotaFailureSchema)) {
    for (const v of quota.violations) lines.push(`  quota ${v.subject}: ${v.description}`);
  }
  for (const res of err.findDetails(ResourceInfoSchema)) {
    lines.push(
      `  resource: ${res.resourceType} ${res.resourceName}${res.description ? `: ${res.description}` : ""}`,
    );
  }
  for (const retry of err.findDetails(RetryInfoSchema)) {
    lines.push(`  retry after ${formatDuration(retry.retryDelay) || "a moment"}`);
  }
  for (const help of err.findDetails(HelpSchema)) {
    for (const l of help.links) lines.push(`  see ${l.description}: ${l.url}`);
  }
  if (err.code === Code.Unavailable && target !== undefined) {
    lines.push(
      `  ${target.service} at ${target.url} is unreachable: is the mesh running? (npm start)`,
    );
  }
  if (err.code === Code.Unauthenticated) {
    lines.push("  give a token with --token or LUCID_TOKEN");
  }
  return { text: lines.join("\n"), exitCode: err.code };
}
