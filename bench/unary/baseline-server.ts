/**
 * The baselines of the unary-RPC benchmark, with the same handler (session-controller's real
 * SessionControllerHandler on the same seeded fixture) and the same protobuf-es messages:
 *
 * - `grpc`: a bare @grpc/grpc-js server (plaintext HTTP/2), serializing with toBinary/fromBinary:
 *   what a team that "just uses grpc-js" would run.
 * - `http1`: a bare node:http server answering the Connect protocol's unary JSON POST for this
 *   one method (fromJsonString/toJsonString): the floor under Connect JSON over HTTP/1.1.
 *
 * Neither has interceptors, metrics, logs, validation or health: that is the point of a floor.
 *
 * - `connect`: stock connect-node (connectNodeAdapter on a plain node:http2 server, no
 *   interceptors): not a baseline but a reference point, splitting the gap between ours and
 *   grpc-js into what Connect itself costs and what the runtime adds on top.
 *
 * Usage: baseline-server.ts grpc|http1|connect <port>. Prints "ready <session id>" on stderr.
 */
import { createServer } from "node:http";
import { createServer as createHttp2Server } from "node:http2";
import { fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  type GetSessionRequest,
  GetSessionRequestSchema,
  type GetSessionResponse,
  GetSessionResponseSchema,
  SessionControllerService,
} from "@lucid-rdp/gen";
import { createSessionFixture } from "./fixture.js";

const [mode, portArg] = process.argv.slice(2);
const port = Number(portArg);
if (!["grpc", "http1", "connect"].includes(mode ?? "") || !Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: baseline-server.ts grpc|http1|connect <port>\n");
  process.exit(2);
}

const fixture = await createSessionFixture();

/** The handler reads only ctx.signal; the rest of a HandlerContext is Connect's business. */
function contextWith(signal: AbortSignal): HandlerContext {
  return { signal } as unknown as HandlerContext;
}

const getSession = (req: GetSessionRequest, signal: AbortSignal): Promise<GetSessionResponse> =>
  fixture.handler.getSession(req, contextWith(signal));

if (mode === "grpc") {
  const method = SessionControllerService.method.getSession;
  const definition: grpc.ServiceDefinition = {
    getSession: {
      path: `/${SessionControllerService.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: GetSessionRequest) => Buffer.from(toBinary(GetSessionRequestSchema, m)),
      requestDeserialize: (b: Buffer) => fromBinary(GetSessionRequestSchema, b),
      responseSerialize: (m: GetSessionResponse) =>
        Buffer.from(toBinary(GetSessionResponseSchema, m)),
      responseDeserialize: (b: Buffer) => fromBinary(GetSessionResponseSchema, b),
    },
  };
  const server = new grpc.Server();
  server.addService(definition, {
    getSession: (
      call: grpc.ServerUnaryCall<GetSessionRequest, GetSessionResponse>,
      callback: grpc.sendUnaryData<GetSessionResponse>,
    ) => {
      const abort = new AbortController();
      call.once("cancelled", () => abort.abort());
      getSession(call.request, abort.signal).then(
        (res) => callback(null, res),
        (e: unknown) =>
          callback({ code: grpc.status.NOT_FOUND, details: e instanceof Error ? e.message : "" }),
      );
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) =>
      e ? reject(e) : resolve(),
    ),
  );
} else if (mode === "connect") {
  const server = createHttp2Server(connectNodeAdapter({ routes: fixture.app.routes }));
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
} else {
  const path = `/${SessionControllerService.typeName}/${SessionControllerService.method.getSession.name}`;
  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const abort = new AbortController();
      res.once("close", () => abort.abort());
      let request: GetSessionRequest;
      try {
        request = fromJsonString(GetSessionRequestSchema, Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        res.end('{"code":"invalid_argument"}');
        return;
      }
      getSession(request, abort.signal).then(
        (reply) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(toJsonString(GetSessionResponseSchema, reply));
        },
        () => {
          res.writeHead(404, { "content-type": "application/json" });
          res.end('{"code":"not_found"}');
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
}
// A plain exit on SIGTERM (not the default kill), so that `node --cpu-prof` writes its profile.
process.once("SIGTERM", () => process.exit(0));
process.stderr.write(`ready ${fixture.sessionId}\n`);
