import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorWithInfo, invalidArgument } from "@lucid-rdp/runtime";
import { ErrorInfoSchema, RetryInfoSchema } from "@lucid-rdp/runtime/error-details";
import { describe, expect, it } from "vitest";
import { codeName, describeError } from "./describe-error.js";
import { UsageError } from "./usage-error.js";

/** The error as a client receives it: details as the type name and bytes sent on the wire. */
function received(err: ConnectError): ConnectError {
  const wire = err.details.map((d) =>
    "desc" in d
      ? { type: d.desc.typeName, value: toBinary(d.desc, create(d.desc, d.value as never)) }
      : d,
  );
  const out = new ConnectError(err.rawMessage, err.code);
  out.details.push(...wire);
  return out;
}

describe("describeError()", () => {
  it("exits with the gRPC code and decodes ErrorInfo", () => {
    const err = received(
      errorWithInfo("session 42 not found", Code.NotFound, "SESSION_NOT_FOUND", {
        session_id: "42",
      }),
    );
    const d = describeError(err);
    expect(d.exitCode).toBe(5);
    expect(d.text).toBe(
      "error: NOT_FOUND: session 42 not found\n  reason: SESSION_NOT_FOUND (session_id=42)",
    );
  });

  it("lists BadRequest field violations", () => {
    const err = received(
      invalidArgument([
        { field: "user", description: "value does not match regex pattern" },
        { field: 'labels["A"]', description: "bad key" },
      ]),
    );
    const d = describeError(err);
    expect(d.exitCode).toBe(3);
    expect(d.text).toContain("\n  field user: value does not match regex pattern");
    expect(d.text).toContain('\n  field labels["A"]: bad key');
  });

  it("says when to retry", () => {
    const err = new ConnectError("slow down", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: { retryDelay: { seconds: 5n } } },
      { desc: ErrorInfoSchema, value: { reason: "SESSION_CAP", domain: "rdp.lucid" } },
    ]);
    const d = describeError(received(err));
    expect(d.exitCode).toBe(8);
    expect(d.text).toContain("  retry after 5s");
    expect(d.text).toContain("  reason: SESSION_CAP");
  });

  it("points at the mesh when a service is unreachable", () => {
    const d = describeError(new ConnectError("connect ECONNREFUSED", Code.Unavailable), {
      service: "session-controller",
      url: "http://127.0.0.1:8082",
    });
    expect(d.exitCode).toBe(14);
    expect(d.text).toContain(
      "session-controller at http://127.0.0.1:8082 is unreachable: is the mesh running? (npm start)",
    );
  });

  it("asks for a token when unauthenticated", () => {
    const d = describeError(new ConnectError("missing token", Code.Unauthenticated));
    expect(d.exitCode).toBe(16);
    expect(d.text).toContain("--token or LUCID_TOKEN");
  });

  it("exits 2 for usage errors and 1 for anything else", () => {
    expect(describeError(new UsageError("bad"))).toEqual({ text: "error: bad", exitCode: 2 });
    expect(describeError(new Error("boom"))).toEqual({ text: "error: boom", exitCode: 1 });
  });

  it("names codes in UPPER_SNAKE", () => {
    expect(codeName(Code.FailedPrecondition)).toBe("FAILED_PRECONDITION");
    expect(codeName(Code.Unauthenticated)).toBe("UNAUTHENTICATED");
  });
});
