/** What a client sees of a refused call, in one shape the tests compare. */
import { BadRequestSchema, ErrorInfoSchema } from "@lucid-rdp/runtime";
import { connectErrorOf } from "./connect-error-of.js";

/** The code, BadRequest field paths and ErrorInfo reason of `call`'s error (all undefined if it succeeded). */
export async function refusalOf(call: Promise<unknown>) {
  const err = await connectErrorOf(call);
  return {
    code: err?.code,
    fields: err?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field),
    reason: err?.findDetails(ErrorInfoSchema)[0]?.reason,
  };
}

/** A well-formed page token of another list (servers): every other List RPC must refuse it. */
export const foreignPageToken = Buffer.from('{"c":"servers","t":1,"i":"x"}').toString("base64url");
