/** Starts the echo service for tests: in this process, or as a real child process. */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import {
  createLogger,
  type Env,
  type RunningServer,
  readRuntimeConfig,
  type ServerOptions,
  startServer,
} from "../../src/index.js";
import { EchoService, echoRoutes } from "./echo-service.js";
import { repoRoot } from "./tools.js";

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
  const server = await startServer({
    config,
    logger,
    routes: echoRoutes,
    services: [EchoService],
    ...extra,
  });
  return Object.assign(server, { logs });
}

export interface ChildServer {
  readonly child: ChildProcess;
  /**
   * Signals the service. tsx runs the service in a child process and relays SIGTERM/SIGINT to it
   * once, so those go to tsx alone (a second copy would read as "second signal: exit now");
   * SIGKILL goes to the whole process group, or the service would outlive its killed tsx.
   */
  kill(signal: NodeJS.Signals): void;
  readonly url: string;
  readonly port: number;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  readonly stdout: string[];
  /** Everything the process wrote to stderr: an uncaught error lands here, not in the log. */
  readonly stderr: () => string;
}

const tsx = `${repoRoot}node_modules/.bin/tsx`;
const echoMain = `${repoRoot}packages/runtime/test/support/echo-server.ts`;

/**
 * Runs a service's main.ts (any path under the repository) as a child process, as its image
 * would; resolves once it logs "listening".
 */
export function spawnService(main: string, env: Env, timeoutMs = 30_000): Promise<ChildServer> {
  const child = spawn(tsx, [main], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (signal === "SIGKILL") process.kill(-(child.pid as number), signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  const stdout: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => {
      kill("SIGKILL");
      reject(new Error(`${main} did not listen within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      stdout.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === "listening" && rec.url !== undefined) {
          clearTimeout(timer);
          resolve({
            child,
            kill,
            url: rec.url,
            port: Number(new URL(rec.url).port),
            exited,
            stdout,
            stderr: () => stderr,
          });
        }
      } catch {
        // not a log line
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${main} exited ${code}: ${stderr}`));
    }, reject);
  });
}

/** Runs the echo service as a child process, as its image would; resolves once it listens. */
export function spawnEcho(env: Env): Promise<ChildServer> {
  return spawnService(echoMain, env);
}

/** Runs the echo service expecting it to refuse to start; resolves with exit code and stderr. */
export function runEchoExpectingExit(env: Env): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(tsx, [echoMain], {
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
