/** Starts the echo service for tests: in this process, or as a real child process. */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { type ChildServer, repoRoot, spawnService, tsxBin } from "@lucid-rdp/testing";
import {
  createLogger,
  type Env,
  type RunningServer,
  readRuntimeConfig,
  type ServerOptions,
  startServer,
} from "../../src/index.js";
import { EchoService, echoRoutes } from "./echo-service.js";

export type { ChildServer };

const echoMain = `${repoRoot}packages/runtime/test/support/echo-server.ts`;

/** The echo service running in this process, with its parsed log. */
export interface InProcessServer extends RunningServer {
  /** Every log line the server wrote, parsed. */
  readonly logs: Record<string, unknown>[];
}

/** Starts the echo service in this process on a free loopback port. */
export async function startEcho(
  env: Env = {},
  extra: Partial<Omit<ServerOptions, "config" | "logger">> = {},
): Promise<InProcessServer> {
  const config = readRuntimeConfig(
    { serviceName: "echo", port: 0 },
    { LOG_LEVEL: "debug", ...env },
  );
  const sink = new PassThrough();
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: sink }).on("line", (l) => logs.push(JSON.parse(l)));
  const logger = createLogger({ service: "echo", level: "debug", destination: sink });
  let running: RunningServer | undefined;
  const server = await startServer({
    config,
    logger,
    routes: (router) => echoRoutes(router, { shutdownSignal: () => running?.shutdownSignal }),
    services: [EchoService],
    ...extra,
  });
  running = server;
  return Object.assign(server, { logs });
}

/** Runs the echo service as a child process, as its image would; resolves once it listens. */
export function spawnEcho(env: Env): Promise<ChildServer> {
  return spawnService(echoMain, env);
}

/** Runs the echo service expecting it to refuse to start; resolves with exit code and stderr. */
export function runEchoExpectingExit(env: Env): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(tsxBin, [echoMain], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}
