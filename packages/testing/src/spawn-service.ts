/** Runs a service's main.ts as a real child process, as its image would. */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Env } from "@lucid-rdp/runtime";
import { repoRoot } from "./tools.js";

/** A service run by {@link spawnService}: its process, address and output. */
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

/** The tsx that runs a service's TypeScript main. */
export const tsxBin = `${repoRoot}node_modules/.bin/tsx`;

/**
 * Runs a service's main.ts (any path under the repository) as a child process, as its image
 * would; resolves once it logs "listening".
 */
export function spawnService(main: string, env: Env, timeoutMs = 30_000): Promise<ChildServer> {
  const child = spawn(tsxBin, [main], {
    // Tests keep records in memory unless they name a DATA_DIR: none writes into the checkout.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(env.DATA_DIR === undefined ? { EMBEDDED_STATE: "memory" } : {}),
      ...env,
    },
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
