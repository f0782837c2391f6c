/**
 * Starts the ConformanceService for one ServerCompatRequest exactly as a service's main.ts starts
 * a service: the RuntimeConfig comes from readRuntimeConfig over env-like values (port 0 on
 * loopback, so auth is off; TLS files written from the request's credentials; the message receive
 * limit as MAX_MESSAGE_BYTES), and packages/runtime's startServer serves it on one port.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  type Env,
  type Logger,
  type RunningServer,
  readRuntimeConfig,
  startServer,
} from "@lucid-rdp/runtime";
import type { ConformanceSchema } from "./conformance-schema.js";
import { conformanceRoutes } from "./conformance-service.js";
import type { ServerCompatRequestShape } from "./conformance-shapes.js";

/** A started server and the ServerCompatResponse that tells the runner where it is. */
export interface StartedConformanceServer {
  readonly server: RunningServer;
  /** connectrpc.conformance.v1.ServerCompatResponse */
  readonly response: ReturnType<typeof create>;
}

export interface StartConformanceServerOptions {
  readonly schema: ConformanceSchema;
  readonly request: ServerCompatRequestShape;
  readonly logger: Logger;
  /** Variables layered under the ones the request decides (e.g. LOG_LEVEL). @default {} */
  readonly env?: Env;
}

/** The env a service would be given for what `request` asks of the server. */
export function conformanceEnv(request: ServerCompatRequestShape, base: Env = {}): Env {
  if (request.clientTlsCert.length > 0) {
    // The runtime has no client-certificate auth, and conformance.yaml does not claim it.
    throw new Error("TLS client certificates are not supported by the runtime");
  }
  const env: Record<string, string | undefined> = {
    ...base,
    SERVICE_NAME: "conformance",
    HOST: "127.0.0.1",
    PORT: "0",
  };
  if (request.messageReceiveLimit > 0) {
    env.MAX_MESSAGE_BYTES = String(request.messageReceiveLimit);
  }
  if (request.useTls) {
    const creds = request.serverCreds;
    if (creds === undefined || creds.cert.length === 0 || creds.key.length === 0) {
      throw new Error("use_tls is set but server_creds carries no certificate and key");
    }
    const dir = mkdtempSync(join(tmpdir(), "conformance-tls-"));
    env.TLS_CERT = join(dir, "cert.pem");
    env.TLS_KEY = join(dir, "key.pem");
    writeFileSync(env.TLS_CERT, creds.cert);
    writeFileSync(env.TLS_KEY, creds.key, { mode: 0o600 });
  }
  return env;
}

/** Starts the server `request` describes and builds the response for the runner. */
export async function startConformanceServer(
  opts: StartConformanceServerOptions,
): Promise<StartedConformanceServer> {
  const { schema, request, logger } = opts;
  const config = readRuntimeConfig(
    { serviceName: "conformance", port: 0 },
    conformanceEnv(request, opts.env),
  );
  const server = await startServer({
    config,
    logger,
    routes: conformanceRoutes(schema),
    services: [schema.service],
  });
  const response = create(schema.message("ServerCompatResponse"), {
    host: config.host,
    port: server.port,
    pemCert: request.useTls ? request.serverCreds?.cert : undefined,
  });
  return { server, response };
}
