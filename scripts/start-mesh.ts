/**
 * `npm start`: brings up the mesh on one machine, wired together: server-manager (8081),
 * session-controller (8082), xrdp-integration (3389, registered with server-manager as the node
 * "local") and resource-monitor (8090, watching that node). Each service runs as its own process, as its image would, on the embedded
 * backends unless MONGODB_URI / REDIS_URL are set (then all of them use those). Ctrl-C, SIGTERM
 * and SIGHUP (the terminal closing) stop them all, in reverse order; xrdp-integration stops its xrdp
 * instances on the way out. They start in dependency order, each once the one before it listens, so none meets a
 * peer that refuses it. A bad SERVICE_PORT variable exits 2 naming it; a port already taken exits 1 naming the
 * variable that moves it; one line says when the whole mesh is ready, with the console's URL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SignJWT } from "jose";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/**
 * tsx's loader, for `node --import`: each service runs as a plain node process that gets the
 * launcher's SIGTERM itself. (Under the tsx CLI, a relay SIGKILLs a child that does not answer a
 * signal within 60 ms: a service busy starting an xrdp died at once, leaving that xrdp behind.)
 */
const tsxLoader = pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href;
const host = process.env.HOST ?? "127.0.0.1";
const dataDir = process.env.DATA_DIR ?? join(root, ".lucid-data");

interface Service {
  readonly name: string;
  readonly port: number;
  readonly env: Record<string, string>;
}

const url = (port: number) => `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
/** SERVER_MANAGER_PORT etc. move a service; the others are wired to where it is. */
const portVariable = (name: string) => `${name.toUpperCase().replaceAll("-", "_")}_PORT`;
const portOf = (name: string, def: number): number => {
  const variable = portVariable(name);
  const raw = process.env[variable];
  if (raw === undefined) return def;
  const port = Number(raw);
  if (!/^[0-9]{1,5}$/.test(raw) || port < 1 || port > 65535) {
    process.stderr.write(
      `config error: ${variable}=${JSON.stringify(raw)} is not valid: expected an integer from 1 to 65535\n`,
    );
    process.exit(2);
  }
  return port;
};
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

/**
 * With AUTH_JWT_SECRET and no MESH_TOKEN, the services' calls to each other need a token of the
 * service role: minted here with that secret (and AUTH_ISSUER / AUTH_AUDIENCE when set), valid 30
 * days, for this run only. The launcher uses it too, to see that the node registered.
 */
async function meshToken(): Promise<string | undefined> {
  if (process.env.MESH_TOKEN !== undefined) return process.env.MESH_TOKEN;
  const secret = process.env.AUTH_JWT_SECRET;
  if (secret === undefined) return undefined;
  const alg = (process.env.AUTH_ALGORITHMS ?? "HS256").split(",")[0]?.trim() || "HS256";
  let jwt = new SignJWT({ roles: ["service"] })
    .setProtectedHeader({ alg })
    .setSubject("lucid-rdp-mesh")
    .setIssuedAt()
    .setExpirationTime("30d");
  if (process.env.AUTH_ISSUER) jwt = jwt.setIssuer(process.env.AUTH_ISSUER);
  if (process.env.AUTH_AUDIENCE) jwt = jwt.setAudience(process.env.AUTH_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(secret));
}
const token = await meshToken();

const children: ChildProcess[] = [];
let stopping = false;

/** A service's process, and when it listens (or exits first). */
interface Started {
  readonly child: ChildProcess;
  /** Resolves once the service listens (its "listening" line, or /livez), or exited. */
  readonly listening: Promise<void>;
}

function start(s: Service): Started {
  const main = join(root, "services", s.name, "src/main.ts");
  const child = spawn(process.execPath, ["--import", tsxLoader, main], {
    env: {
      ...process.env,
      // Embedded records (no MONGODB_URI) persist here, one <service>.sqlite each (gitignored).
      DATA_DIR: dataDir,
      SERVICE_NAME: s.name,
      PORT: String(s.port),
      ...(token !== undefined && { MESH_TOKEN: token }),
      ...s.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: Ctrl-C reaches the launcher only, which then stops each service once.
    detached: true,
  });
  const pad = s.name.padEnd(18);
  let listened: () => void = () => {};
  const listening = new Promise<void>((resolve) => {
    listened = resolve;
  });
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
          listened();
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
  // The "listening" line does not show below LOG_LEVEL=info: /livez answering says it too.
  void (async () => {
    while (child.exitCode === null && child.signalCode === null && !stopping) {
      try {
        if ((await fetch(`${url(s.port)}/livez`)).status === 200) return listened();
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  child.once("exit", (code, signal) => {
    listened();
    process.stdout.write(`${pad} | exited (${signal ?? code})\n`);
    if (!stopping) void stopAll(1);
  });
  return { child, listening };
}

/**
 * Stops the services in the reverse of their start order, each once the one after it exited: a
 * service stops while the peers it calls still run. (Stopped all at once, xrdp-integration met
 * its peers' GOAWAY in the middle of its own stop; an error the client library raised then ended
 * it before it had stopped its xrdp instances, which were left behind: connect-node raises that
 * GOAWAY error uncaught, connectrpc/connect-es#1768.)
 */
async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write("stopping the mesh...\n");
  for (const c of [...children].reverse()) {
    await new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
      setTimeout(() => c.kill("SIGKILL"), 30_000).unref();
    });
  }
  process.exit(code);
}

// SIGHUP: the terminal closed. The services run in process groups of their own, so only the
// launcher hears it, and stops them.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void stopAll(0));
}

// Two services on one port: the second could never listen. Refused before anything starts.
for (const [i, a] of services.entries()) {
  const b = services.slice(i + 1).find((o) => o.port === a.port);
  if (b !== undefined) {
    process.stderr.write(
      `config error: ${portVariable(a.name)} and ${portVariable(b.name)} are both ${a.port}: give each service its own port\n`,
    );
    process.exit(2);
  }
}

/** Resolves when `port` can be bound on `host` now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

for (const s of services) {
  if (!(await portIsFree(s.port))) {
    process.stderr.write(
      `${s.name}: port ${s.port} on ${host} is already in use (another npm start, or another program): stop it, or set ${portVariable(s.name)} to another port\n`,
    );
    process.exit(1);
  }
}

if (!existsSync("/usr/sbin/xrdp") && process.env.XRDP_BIN === undefined) {
  process.stdout.write(
    "NOTE: xrdp is not installed (apt-get install -y xrdp): the mesh starts, but servers and sessions cannot be created; xrdp-integration reports NOT_SERVING with the reason.\n",
  );
}
process.stdout.write(
  `state: ${process.env.MONGODB_URI ? "MongoDB" : `embedded in ${dataDir} (kept across restarts)`}, coordination: ${process.env.REDIS_URL ? "Redis" : "embedded"}\n`,
);
// In dependency order, each once the one before it listens: server-manager (called by all),
// session-controller (follows server-manager), xrdp-integration (registers its node with
// server-manager, reports connections to session-controller), resource-monitor (samples
// xrdp-integration, asks session-controller). No service then meets a peer that refuses it.
// (server-manager asks resource-monitor for host health only when placing a server.)
for (const s of services) {
  if (stopping) break;
  const started = start(s);
  children.push(started.child);
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), 60_000);
  });
  if (await Promise.race([started.listening.then(() => false), slow])) {
    process.stdout.write(`${s.name} is not listening after 60 s; starting the next service\n`);
  }
  clearTimeout(timer);
}

/** Prints one line once every service answers /readyz and the node has registered. */
async function announceReady(): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!stopping && Date.now() < deadline) {
    try {
      const ready = await Promise.all(
        services.map(async (s) => (await fetch(`${url(s.port)}/readyz`)).status === 200),
      );
      const nodes = await fetch(`${url(sm)}/lucid.rdp.v1.ServerManagerService/ListNodes`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          // A poll: server-manager logs it at debug.
          "x-lucid-routine": "poll",
          ...(token !== undefined && { authorization: `Bearer ${token}` }),
        },
        body: "{}",
      });
      const body = (await nodes.json()) as { nodes?: { id: string }[] };
      if (ready.every(Boolean) && (body.nodes ?? []).length > 0) {
        process.stdout.write(
          `mesh ready: ${services.length} services up, node registered; console at ${url(sc)}/console\n`,
        );
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
void announceReady();
