/**
 * The one place where errors become what a client sees. Domain errors (plain classes from each
 * service's domain/) are mapped to Connect codes by rules each service registers; anything
 * unmapped is INTERNAL with a generic message, and its details go to the log and `cause` only.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequest_FieldViolationSchema,
  BadRequestSchema,
  ErrorInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** The `domain` of every ErrorInfo this mesh sends. */
export const errorDomain = "rdp.lucid";

/** One mapping from a domain error class to what the client sees. */
export interface ErrorRule<E extends Error = Error> {
  /** The error class; subclasses match too. */
  readonly match: abstract new (
    ...args: never[]
  ) => E;
  readonly code: Code;
  /** UPPER_SNAKE reason for ErrorInfo, e.g. "SESSION_NOT_FOUND". */
  readonly reason: string;
  /** Ids and names safe to show the caller. @default none */
  readonly metadata?: (e: E) => Record<string, string>;
  /** The client-facing message. @default e.message (domain messages are written for callers) */
  readonly message?: (e: E) => string;
  /**
   * For errors about one request field: its path (e.g. "settings.security_layer"). The error then
   * also carries a BadRequest detail with that field violation. @default none
   */
  readonly field?: (e: E) => string;
}

/**
 * Declares a rule for one error class, keeping `metadata` and `message` typed with that class,
 * for a list of rules of different classes.
 */
export function defineErrorRule<E extends Error>(rule: ErrorRule<E>): ErrorRule {
  return rule as unknown as ErrorRule;
}

/** A field that failed validation. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** Builds INVALID_ARGUMENT with a BadRequest detail listing each bad field. */
export function invalidArgument(violations: readonly FieldViolation[], cause?: unknown) {
  const summary = violations.map((v) => `${v.field}: ${v.description}`).join("; ");
  return new ConnectError(
    `invalid request: ${summary}`,
    Code.InvalidArgument,
    undefined,
    [
      {
        desc: BadRequestSchema,
        value: create(BadRequestSchema, {
          fieldViolations: violations.map((v) =>
            create(BadRequest_FieldViolationSchema, { field: v.field, description: v.description }),
          ),
        }),
      },
    ],
    cause,
  );
}

/** Builds a ConnectError with an ErrorInfo detail. */
export function errorWithInfo(
  message: string,
  code: Code,
  reason: string,
  metadata: Record<string, string> = {},
  cause?: unknown,
): ConnectError {
  return new ConnectError(
    message,
    code,
    undefined,
    [
      {
        desc: ErrorInfoSchema,
        value: create(ErrorInfoSchema, { reason, domain: errorDomain, metadata }),
      },
    ],
    cause,
  );
}

/** Maps errors to ConnectErrors with the registered rules. */
export class ErrorMapper {
  private readonly rules: ErrorRule[];
  constructor(rules: readonly ErrorRule[] = []) {
    this.rules = [...rules] as ErrorRule[];
  }

  /**
   * Returns the ConnectError to send, and whether the original was unexpected (to be logged at
   * error level with its stack).
   */
  map(err: unknown): { error: ConnectError; unexpected: boolean } {
    if (err instanceof ConnectError) return { error: err, unexpected: false };
    if (err instanceof Error) {
      for (const rule of this.rules) {
        if (err instanceof rule.match) {
          const message = rule.message ? rule.message(err) : err.message;
          const error = errorWithInfo(
            message,
            rule.code,
            rule.reason,
            rule.metadata?.(err) ?? {},
            err,
          );
          if (rule.field) {
            const violation = { field: rule.field(err), description: message };
            error.details.push(...invalidArgument([violation]).details);
          }
          return { error, unexpected: false };
        }
      }
      if (err.name === "TimeoutError") {
        const error = new ConnectError(
          "deadline exceeded",
          Code.DeadlineExceeded,
          undefined,
          undefined,
          err,
        );
        return { error, unexpected: false };
      }
      if (err.name === "AbortError") {
        const error = new ConnectError(
          "the call was cancelled",
          Code.Canceled,
          undefined,
          undefined,
          err,
        );
        return { error, unexpected: false };
      }
    }
    return {
      error: new ConnectError("internal error", Code.Internal, undefined, undefined, err),
      unexpected: true,
    };
  }
}
