/**
 * Operators' view of a service process on the runtime: grpcurl against the echo service started
 * exactly as a service's main.ts starts (real process, one port, auth off on loopback).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { findTool, type SkipContext, skipOrFail } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChildServer, spawnEcho } from "./support/harness.js";

const run = promisify(execFile);
const install =
  "GOBIN=$PWD/.tools/bin go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4";
const grpcurl = findTool("grpcurl", install);

let server: ChildServer | undefined;
beforeAll(async () => {
  if (grpcurl !== undefined) server = await spawnEcho({});
});
afterAll(async () => {
  server?.kill("SIGTERM");
  await server?.exited;
});

/** Runs grpcurl -plaintext with `args`, where "ADDR" stands for the server's address. */
async function curl(ctx: SkipContext, ...args: string[]) {
  if (grpcurl === undefined || server === undefined) {
    skipOrFail(ctx, `grpcurl missing: ${install}`);
  }
  const address = `127.0.0.1:${server.port}`;
  const argv = ["-plaintext", ...args.map((a) => (a === "ADDR" ? address : a))];
  const { stdout } = await run(grpcurl, argv);
  return stdout;
}

/** Runs a grpcurl call that must fail; resolves with its exit code and everything it printed. */
async function curlFailing(ctx: SkipContext, ...args: string[]) {
  const err = (await curl(ctx, ...args).then(
    (stdout) => ({ stdout, stderr: "", code: 0 }),
    (e: unknown) => e,
  )) as { stdout: string; stderr: string; code: number };
  return { code: err.code, out: `${err.stdout}${err.stderr}` };
}

describe("grpcurl against a service process", () => {
  it("lists the service, health and both reflection versions", async (ctx) => {
    const out = (await curl(ctx, "ADDR", "list")).trim().split("\n");
    expect(out).toEqual(
      expect.arrayContaining([
        "lucid.rdp.testing.v1.EchoService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("describes the service and its methods with their comments", async (ctx) => {
    const out = await curl(ctx, "ADDR", "describe", "lucid.rdp.testing.v1.EchoService");
    expect(out).toContain("// EchoService exists only for the runtime's tests");
    expect(out).toContain("// Echo returns the message it was given.");
    expect(out).toContain("rpc Echo ( .lucid.rdp.testing.v1.EchoRequest )");
    expect(out).toContain(
      "rpc EchoStream ( .lucid.rdp.testing.v1.EchoStreamRequest ) returns ( stream",
    );
  });

  it("describes a message with its field comments and rules", async (ctx) => {
    const out = await curl(ctx, "ADDR", "describe", "lucid.rdp.testing.v1.EchoRequest");
    expect(out).toContain("// The text to echo: 1 to 64 characters.");
    expect(out).toContain("buf.validate.field");
  });

  it("invokes a method with JSON", async (ctx) => {
    const out = await curl(
      ctx,
      "-d",
      '{"message":"from grpcurl"}',
      "ADDR",
      "lucid.rdp.testing.v1.EchoService/Echo",
    );
    expect(JSON.parse(out)).toEqual({ message: "from grpcurl" });
  });

  it("checks health with grpc.health.v1", async (ctx) => {
    const out = await curl(ctx, "-d", '{"service":""}', "ADDR", "grpc.health.v1.Health/Check");
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
  });

  it("gets INVALID_ARGUMENT with the field named for a bad request", async (ctx) => {
    const { code, out } = await curlFailing(
      ctx,
      "-d",
      '{"message":""}',
      "ADDR",
      "lucid.rdp.testing.v1.EchoService/Echo",
    );
    expect(code).not.toBe(0);
    expect(out).toContain("InvalidArgument");
    expect(out).toContain("message");
  });

  it("prints an InvalidArgument's details as google.rpc.BadRequest with its field violation", async (ctx) => {
    const { out } = await curlFailing(
      ctx,
      "-d",
      '{"message":""}',
      "ADDR",
      "lucid.rdp.testing.v1.EchoService/Echo",
    );
    expect(out).not.toContain("is not recognized");
    expect(out).toContain('"@type": "type.googleapis.com/google.rpc.BadRequest"');
    expect(out).toMatch(/"field": "message"/);
  });

  it("prints an ErrorInfo's reason and metadata", async (ctx) => {
    const { out } = await curlFailing(
      ctx,
      "-d",
      '{"code":9}',
      "ADDR",
      "lucid.rdp.testing.v1.EchoService/Fail",
    );
    expect(out).not.toContain("is not recognized");
    expect(out).toContain('"@type": "type.googleapis.com/google.rpc.ErrorInfo"');
    expect(out).toContain('"reason": "ASKED_TO_FAIL"');
    expect(out).toContain('"domain": "rdp.lucid"');
  });

  it("describes google.rpc.BadRequest and google.rpc.ErrorInfo", async (ctx) => {
    const badRequest = await curl(ctx, "ADDR", "describe", "google.rpc.BadRequest");
    expect(badRequest).toContain("google.rpc.BadRequest is a message");
    expect(badRequest).toContain("repeated .google.rpc.BadRequest.FieldViolation field_violations");
    const errorInfo = await curl(ctx, "ADDR", "describe", "google.rpc.ErrorInfo");
    expect(errorInfo).toContain("google.rpc.ErrorInfo is a message");
  });
});
