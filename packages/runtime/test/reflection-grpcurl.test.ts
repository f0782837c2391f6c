import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import { findTool, repoRoot, reportMissingTool } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { EchoService } from "../src/gen/lucid/rdp/testing/v1/echo_service_pb.js";
import { type ReflectionVersion, reflectionRoutes } from "../src/reflection.js";

const run = promisify(execFile);
const timeout = 30_000;
const grpcurlInstall =
  "GOBIN=$PWD/.tools/bin go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4";

interface TestServer {
  /** `127.0.0.1:<port>` */
  address: string;
  close(): Promise<void>;
}

/** Serves EchoService and reflection over HTTP/2 cleartext on a free port of 127.0.0.1. */
async function startServer(versions?: readonly ReflectionVersion[]): Promise<TestServer> {
  const routes = (router: ConnectRouter) => {
    router.service(EchoService, { echo: (request) => ({ message: request.message }) });
    reflectionRoutes([EchoService], { versions })(router);
  };
  const server = createServer(connectNodeAdapter({ routes, fallback: unimplemented }));
  const sessions = new Set<Http2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) {
          session.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers an unknown path as a gRPC server does: trailers-only, grpc-status 12 (UNIMPLEMENTED).
 * connect-node's default is a bare HTTP 404 without END_STREAM on the headers, which grpc-go
 * reports as INTERNAL, so grpcurl would never fall back from v1 to v1alpha reflection.
 */
const unimplemented: NonNullable<ConnectNodeAdapterOptions["fallback"]> = (request, response) => {
  const headers = {
    "content-type": "application/grpc",
    "grpc-status": String(Code.Unimplemented),
    "grpc-message": `unknown method ${request.url ?? ""}`,
  };
  if ("stream" in response) {
    response.stream.respond({ ":status": 200, ...headers }, { endStream: true });
  } else {
    response.writeHead(404);
    response.end();
  }
};

/** Runs a client without a shell and returns its stdout; rejects with its stderr on failure. */
async function client(file: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: timeout - 5_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`${file} ${args.join(" ")} failed: ${stderr}`, { cause: error });
  }
}

describe("reflectionRoutes() served over HTTP/2", () => {
  let grpcurl: string | undefined;
  let server: TestServer;
  const buf = join(repoRoot, "node_modules", ".bin", "buf");

  /** Returns the grpcurl path, or reports it missing and skips the test. */
  function needGrpcurl(ctx: TestContext): string {
    if (!grpcurl) {
      reportMissingTool("grpcurl", grpcurlInstall, ctx.task.name);
      ctx.skip();
    }
    return grpcurl;
  }

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  describe("grpcurl", () => {
    beforeAll(() => {
      // Throws under CI=true when grpcurl is missing, failing these tests.
      grpcurl = findTool("grpcurl", grpcurlInstall);
    });

    it("lists the services", { timeout }, async (ctx) => {
      const stdout = await client(needGrpcurl(ctx), ["-plaintext", server.address, "list"]);
      expect(stdout.trim().split("\n")).toStrictEqual([
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "lucid.rdp.testing.v1.EchoService",
      ]);
    });

    it("describes a service", { timeout }, async (ctx) => {
      const stdout = await client(needGrpcurl(ctx), [
        "-plaintext",
        server.address,
        "describe",
        "lucid.rdp.testing.v1.EchoService",
      ]);
      expect(stdout).toContain("lucid.rdp.testing.v1.EchoService is a service:");
      expect(stdout).toContain(
        "rpc Echo ( .lucid.rdp.testing.v1.EchoRequest ) returns ( .lucid.rdp.testing.v1.EchoResponse )",
      );
      expect(stdout).toContain(
        "rpc EchoStream ( .lucid.rdp.testing.v1.EchoStreamRequest ) returns ( stream .lucid.rdp.testing.v1.EchoStreamResponse )",
      );
    });

    it("describes a method with its custom options", { timeout }, async (ctx) => {
      const stdout = await client(needGrpcurl(ctx), [
        "-plaintext",
        server.address,
        "describe",
        "lucid.rdp.testing.v1.EchoService.Echo",
      ]);
      expect(stdout).toContain("lucid.rdp.testing.v1.EchoService.Echo is a method:");
      expect(stdout).toContain("(.lucid.rdp.v1.access)");
    });

    it("describes a message with its validation rules", { timeout }, async (ctx) => {
      const stdout = await client(needGrpcurl(ctx), [
        "-plaintext",
        server.address,
        "describe",
        "lucid.rdp.testing.v1.EchoRequest",
      ]);
      expect(stdout).toContain("lucid.rdp.testing.v1.EchoRequest is a message:");
      expect(stdout).toContain("string message = 1");
      expect(stdout).toContain("(.buf.validate.field)");
    });

    it("describes an enum value's enum", { timeout }, async (ctx) => {
      const stdout = await client(needGrpcurl(ctx), [
        "-plaintext",
        server.address,
        "describe",
        "lucid.rdp.v1.Role",
      ]);
      expect(stdout).toContain("lucid.rdp.v1.Role is an enum:");
      expect(stdout).toContain("ROLE_VIEWER = 1;");
    });

    it("calls Echo", { timeout }, async (ctx) => {
      const stdout = await client(needGrpcurl(ctx), [
        "-plaintext",
        "-d",
        '{"message":"hi"}',
        server.address,
        "lucid.rdp.testing.v1.EchoService/Echo",
      ]);
      expect(JSON.parse(stdout)).toStrictEqual({ message: "hi" });
    });

    it("falls back to v1alpha on a server without v1", { timeout }, async (ctx) => {
      const bin = needGrpcurl(ctx);
      const alphaOnly = await startServer(["v1alpha"]);
      try {
        const stdout = await client(bin, ["-plaintext", alphaOnly.address, "list"]);
        expect(stdout.trim().split("\n")).toStrictEqual([
          "grpc.reflection.v1alpha.ServerReflection",
          "lucid.rdp.testing.v1.EchoService",
        ]);
        const described = await client(bin, [
          "-plaintext",
          alphaOnly.address,
          "describe",
          "lucid.rdp.testing.v1.EchoRequest",
        ]);
        expect(described).toContain("string message = 1");
      } finally {
        await alphaOnly.close();
      }
    });
  });

  describe("buf curl", () => {
    it("is installed as a dev dependency", () => {
      expect(existsSync(buf), `${buf} is missing; run npm ci`).toBe(true);
    });

    it("calls Echo over gRPC", { timeout }, async () => {
      const stdout = await client(buf, [
        "curl",
        "--http2-prior-knowledge",
        "--protocol",
        "grpc",
        "--reflect",
        "--data",
        '{"message":"hi"}',
        `http://${server.address}/lucid.rdp.testing.v1.EchoService/Echo`,
      ]);
      expect(JSON.parse(stdout)).toStrictEqual({ message: "hi" });
    });

    it("lists the methods", { timeout }, async () => {
      const stdout = await client(buf, [
        "curl",
        "--http2-prior-knowledge",
        "--reflect",
        "--list-methods",
        `http://${server.address}`,
      ]);
      const methods = stdout.trim().split("\n");
      expect(methods).toContain("lucid.rdp.testing.v1.EchoService/Echo");
      expect(methods).toContain("lucid.rdp.testing.v1.EchoService/Slow");
      expect(methods).toContain("grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    });

    it("calls Echo with v1alpha reflection", { timeout }, async () => {
      const stdout = await client(buf, [
        "curl",
        "--http2-prior-knowledge",
        "--protocol",
        "grpc",
        "--reflect-protocol",
        "grpc-v1alpha",
        "--data",
        '{"message":"alpha"}',
        `http://${server.address}/lucid.rdp.testing.v1.EchoService/Echo`,
      ]);
      expect(JSON.parse(stdout)).toStrictEqual({ message: "alpha" });
    });
  });
});
