/**
 * `npm start`: brings up the mesh on one machine, wired together: server-manager (8081),
 * session-controller (8082), xrdp-integration (3389, registered with server-manager as the node
 * "local") and resource-monitor (8090, watching that node). Each service runs as its own process, as its image would, on the embedded
 * backends unless MONGODB_URI / REDIS_URL are set (then all of them use those). Ctrl-C (or
 * SIGTERM) stops them all; xrdp-integration stops its xrdp instances on the way out.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsx = join(root, "node_modules/.bin/tsx");
const host = process.env.HOST ?? "127.0.0.1";

interface Service {
  readonly name: string;
  readonly port: number;
  readonly env: Record<string, string>;
}

const url = (port: number) => `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
/** SERVER_MANAGER_PORT etc. move a service; the others are wired to where it is. */
const portOf = (name: string, def: number) =>
  Number(process.env[`${name.toUpperCase().replaceAll("-", "_")}_PORT`] ?? def);
const sm = portOf("server-manager", 8081);
const sc = portOf("session-controller", 8082);
const services: Service[] = [
  {
    name: "server-manager",
    port: sm,
    env: { RESOURCE_MONITOR_URL: url(portOf("resource-monitor", 8090)) },
  },
  {
    name: "session-controller",
    port: sc,
    env: {
      SERVER_MANAGER_URL: url(sm),
      RESOURCE_MONITOR_URL: url(portOf("resource-monitor", 8090)),
    },
  },
  {
    name: "xrdp-integration",
    port: portOf("xrdp-integration", 3389),
    env: {
      SERVER_MANAGER_URL: url(sm),
      SESSION_CONTROLLER_URL: url(sc),
      NODE_ID: process.env.NODE_ID ?? "local",
      // Two READY desktops waiting behind the front door: a new session gets one at once.
      WARM_POOL_SIZE: process.env.WARM_POOL_SIZE ?? "2",
    },
  },
  {
    name: "resource-monitor",
    port: portOf("resource-monitor", 8090),
    env: {
      XRDP_INTEGRATION_URL: url(portOf("xrdp-integration", 3389)),
      SESSION_CONTROLLER_URL: url(sc),
      NODE_ID: process.env.NODE_ID ?? "local",
    },
  },
];

const children: ChildProcess[] = [];
let stopping = false;

function start(s: Service): ChildProcess {
  const main = join(root, "services", s.name, "src/main.ts");
  const child = spawn(tsx, [main], {
    env: {
      ...process.env,
      SERVICE_NAME: s.name,
      PORT: process.env[`${s.name.toUpperCase().replaceAll("-", "_")}_PORT`] ?? String(s.port),
      ...s.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: Ctrl-C reaches the launcher only, which then stops each service once.
    detached: true,
  });
  const pad = s.name.padEnd(18);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on("line", (line) => {
      process.stdout.write(`${pad} | ${line}\n`);
      try {
        const rec = JSON.parse(line) as {
          msg?: string;
          url?: string;
          backends?: unknown;
          reason?: string;
        };
        if (rec.msg === "listening") {
          process.stdout.write(`${pad} | >>> listening on ${rec.url}\n`);
          if (s.name === "session-controller") {
            process.stdout.write(`${pad} | >>> console: ${rec.url}/console\n`);
          }
        }
      } catch {
        // not JSON
      }
    });
  }
  child.once("exit", (code, signal) => {
    process.stdout.write(`${pad} | exited (${signal ?? code})\n`);
    if (!stopping) void stopAll(1);
  });
  return child;
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write("stopping the mesh...\n");
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGTERM");
          setTimeout(() => c.kill("SIGKILL"), 30_000).unref();
        }),
    ),
  );
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void stopAll(0));

if (!existsSync("/usr/sbin/xrdp") && process.env.XRDP_BIN === undefined) {
  process.stdout.write(
    "NOTE: xrdp is not installed (apt-get install -y xrdp): the mesh starts, but servers and sessions cannot be created; xrdp-integration reports NOT_SERVING with the reason.\n",
  );
}
process.stdout.write(
  `state: ${process.env.MONGODB_URI ? "MongoDB" : "embedded (lost on exit)"}, coordination: ${process.env.REDIS_URL ? "Redis" : "embedded"}\n`,
);
for (const s of services) children.push(start(s));
