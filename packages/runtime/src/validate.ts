/**
 * Enforces the protovalidate rules written in the contracts, once, for every request message
 * (unary and each message of a client stream). Violations become INVALID_ARGUMENT with a
 * BadRequest detail naming each field. Written here rather than taken from @connectrpc/validate
 * because that package pins its own copy of @connectrpc/connect (two copies break instanceof
 * ConnectError) and does not attach BadRequest details. Before the rules, every Duration and
 * Timestamp of the request is checked for the ranges its type defines (see time-field-violations).
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator } from "@bufbuild/protovalidate";
import type { Interceptor } from "@connectrpc/connect";
import { invalidArgument } from "./errors.js";
import { timeFieldViolations } from "./time-field-violations.js";

/** Creates the validating server interceptor. */
export function validateInterceptor(): Interceptor {
  const validator = createValidator();
  const check = <D extends DescMessage>(schema: D, msg: MessageShape<D>): void => {
    // Out-of-range Duration/Timestamp values first: the rules below would misread them.
    const times = timeFieldViolations(schema, msg);
    if (times.length > 0) throw invalidArgument(times);
    const result = validator.validate(schema, msg);
    if (result.kind === "valid") return;
    if (result.kind === "invalid") {
      throw invalidArgument(
        result.violations.map((v) => ({
          field: v.field.length > 0 ? pathToString(v.field) : "(message)",
          description: v.message,
        })),
      );
    }
    // A rule that fails to compile is our bug, not the caller's: it surfaces as INTERNAL.
    throw result.error;
  };
  return (next) => async (req) => {
    if (!req.stream) {
      check(req.method.input, req.message);
      return next(req);
    }
    const input = req.message;
    async function* checked() {
      for await (const m of input) {
        check(req.method.input, m);
        yield m;
      }
    }
    return next({ ...req, message: checked() });
  };
}
