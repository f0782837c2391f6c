/**
 * Real backends for the storage tests: a redis-server and a MongoDB wire-protocol server (FerretDB
 * 1.x with its SQLite backend, or the server named by MONGODB_URI), each on a free loopback port,
 * started and stopped by the tests themselves so that outage tests can take them away and bring
 * them back. No client library is needed here: readiness is checked over raw TCP.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTool, reportMissingTool } from "./tools.js";

/** A backend server that a test talks to, and can stop and start again. */
export interface RealServer {
  /** The URL to give the client: `redis://127.0.0.1:P` or `mongodb://127.0.0.1:P/`. */
  readonly url: string;
  /** The TCP port it listens on (0 when MONGODB_URI names no port). */
  readonly port: number;
  /**
   * True when the test started the server, so that {@link RealServer.stop} and
   * {@link RealServer.start} work; false for a server given by MONGODB_URI.
   */
  readonly controllable: boolean;
  /** Kills the server (SIGKILL, as a crash) and resolves once its port refuses connections. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it for good and removes its temporary directory. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Thrown (outside CI) when the server's executable is missing. The caller reports it with
 * {@link MissingToolError.report} and skips its tests; under `CI=true` a missing tool throws a plain
 * Error instead, so the suite fails.
 */
export class MissingToolError extends Error {
  constructor(
    readonly tool: string,
    readonly installHint: string,
  ) {
    super(`${tool} not found; install it with: ${installHint}`);
    this.name = "MissingToolError";
  }

  /** Writes a loud line to stderr saying that `test` is skipped and how to install the tool. */
  report(test: string): void {
    reportMissingTool(this.tool, this.installHint, test);
  }
}

const redisHint = "apt-get install -y redis-server";
const ferretdbHint = "bash .ci/build-ferretdb.sh";

/** How long a server may take to answer after it was spawned. */
const startTimeoutMs = 20_000;
/** How long a killed server may take to release its port. */
const stopTimeoutMs = 10_000;
/** The most output kept from a server, to include in the error when it fails to start. */
const maxOutputChars = 64 * 1024;

/** How {@link startRedis} runs redis-server. */
export interface RedisOptions {
  /**
   * Whether redis-server keeps an append-only file (`appendfsync always`) in its temporary
   * directory, so that {@link RealServer.start} after a {@link RealServer.stop} (SIGKILL) brings
   * back every write it acknowledged, as a crashed production Redis with AOF would.
   * @default false
   */
  readonly appendOnly?: boolean;
}

/**
 * The arguments of a test redis-server: loopback only on `port`, protected mode, quiet logs, its
 * files in `dir`, no snapshots, and an append-only file (`appendfsync always`) only when asked.
 */
export function redisServerArgs(port: number, dir: string, opts: RedisOptions = {}): string[] {
  const appendOnly = opts.appendOnly === true;
  return [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    appendOnly ? "yes" : "no",
    ...(appendOnly ? ["--appendfsync", "always"] : []),
    "--protected-mode",
    "yes",
    "--dir",
    dir,
    "--loglevel",
    "warning",
  ];
}

/**
 * Starts `redis-server` on a free loopback port, without persistence unless asked for, and resolves
 * once it answers PING. Without persistence, {@link RealServer.start} after {@link RealServer.stop}
 * brings back an empty Redis: the Redis outage tests check only unavailability and recovery, not
 * the data.
 */
export async function startRedis(opts: RedisOptions = {}): Promise<RealServer> {
  const appendOnly = opts.appendOnly === true;
  const command = requireTool("redis-server", redisHint);
  const dir = await mkdtemp(join(tmpdir(), "lucid-redis-"));
  return startManaged({
    name: "redis-server",
    dir,
    url: (port) => `redis://127.0.0.1:${port}`,
    spawnArgs: (port) => [command, redisServerArgs(port, dir, { appendOnly })],
    ready: redisAnswersPing,
  });
}

/**
 * Returns the MongoDB wire-protocol server the tests use. When MONGODB_URI is set, wraps it: its
 * `stop()` and `start()` throw, since only a server the test starts can be taken away. Otherwise
 * starts FerretDB with its SQLite backend in a temporary directory on a free loopback port and
 * resolves once it answers a `ping` command; the SQLite directory is kept across `stop()` and
 * `start()`, so data written before an outage is there after it.
 *
 * Tests sharing one server should each use their own database name.
 */
export async function startMongoWire(): Promise<RealServer> {
  const external = process.env.MONGODB_URI;
  if (external !== undefined && external !== "") {
    return externalServer(external);
  }
  const command = requireTool("ferretdb", ferretdbHint);
  const dir = await mkdtemp(join(tmpdir(), "lucid-ferretdb-"));
  const dataDir = join(dir, "data");
  await mkdir(dataDir);
  return startManaged({
    name: "ferretdb",
    dir,
    url: (port) => `mongodb://127.0.0.1:${port}/`,
    spawnArgs: (port) => [
      command,
      [
        "--handler=sqlite",
        `--sqlite-url=file:${dataDir}/`,
        `--listen-addr=127.0.0.1:${port}`,
        "--telemetry=disable",
        // "-" turns off the HTTP debug listener (metrics, pprof), which defaults to 127.0.0.1:8088.
        "--debug-addr=-",
        // state.json (instance id, telemetry choice) would otherwise go to the working directory.
        `--state-dir=${dir}`,
        "--log-level=warn",
      ],
    ],
    ready: mongoAnswersPing,
  });
}

function requireTool(name: string, installHint: string): string {
  const path = findTool(name, installHint); // throws under CI=true
  if (path === undefined) {
    throw new MissingToolError(name, installHint);
  }
  return path;
}

function externalServer(url: string): RealServer {
  const refuse = () =>
    Promise.reject(
      new Error(
        "outage tests need a server the test starts: unset MONGODB_URI to run them on FerretDB",
      ),
    );
  let port = 0;
  try {
    port = Number(new URL(url).port || (url.startsWith("mongodb://") ? 27017 : 0));
  } catch {
    // a seed list such as mongodb://a:1,b:2/ is not a WHATWG URL; the port is then unknown
  }
  return {
    url,
    port,
    controllable: false,
    stop: refuse,
    start: refuse,
    close: () => Promise.resolve(),
  };
}

interface ManagedOptions {
  readonly name: string;
  /** Temporary directory, removed by close(). */
  readonly dir: string;
  readonly url: (port: number) => string;
  readonly spawnArgs: (port: number) => [command: string, args: string[]];
  /** Resolves true once the server on `port` answers. */
  readonly ready: (port: number) => Promise<boolean>;
}

async function startManaged(options: ManagedOptions): Promise<RealServer> {
  let output = "";
  let child: ChildProcess | undefined;
  let closed = false;

  const launch = async (port: number): Promise<void> => {
    const [command, args] = options.spawnArgs(port);
    output = "";
    const proc = spawn(command, args, { cwd: options.dir, stdio: ["ignore", "pipe", "pipe"] });
    track(proc);
    const append = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-maxOutputChars);
    };
    proc.stdout?.on("data", append);
    proc.stderr?.on("data", append);
    let exit: string | undefined;
    proc.once("error", (error) => {
      exit = `failed to spawn: ${error.message}`;
    });
    proc.once("exit", (code, signal) => {
      exit = `exited with ${signal ?? `code ${code}`}`;
    });
    child = proc;
    const deadline = Date.now() + startTimeoutMs;
    while (exit === undefined && Date.now() < deadline) {
      if (await options.ready(port)) {
        return;
      }
      await delay(25);
    }
    const reason = exit ?? `did not answer within ${startTimeoutMs} ms`;
    await kill(proc);
    child = undefined;
    throw new Error(
      `${options.name} on 127.0.0.1:${port} ${reason}\n${command} ${args.join(" ")}\n--- output ---\n${output}`,
    );
  };

  // Another process may take the free port between freePort() and the spawn: try a few ports.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch(port);
      break;
    } catch (error) {
      if (attempt >= 3 || !/address already in use/i.test(String(error))) {
        await rm(options.dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const stop = async (): Promise<void> => {
    if (child !== undefined) {
      const proc = child;
      child = undefined;
      await kill(proc);
    }
    await waitUntilRefused(port);
  };

  return {
    url: options.url(port),
    port,
    controllable: true,
    stop,
    async start() {
      if (closed) {
        throw new Error(`${options.name} was closed`);
      }
      if (child === undefined) {
        await launch(port);
      }
    },
    async close() {
      if (!closed) {
        closed = true;
        await stop();
        await rm(options.dir, { recursive: true, force: true });
      }
    },
  };
}

// --- child processes -------------------------------------------------------------------------

const children = new Set<ChildProcess>();
let exitHandlerRegistered = false;

/** Remembers a child so that it is killed if this process exits with it still running. */
function track(proc: ChildProcess): void {
  children.add(proc);
  proc.once("exit", () => children.delete(proc));
  if (!exitHandlerRegistered) {
    exitHandlerRegistered = true;
    process.once("exit", () => {
      for (const c of children) {
        c.kill("SIGKILL");
      }
    });
  }
}

/** Sends SIGKILL and resolves once the process has exited. */
function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    proc.once("exit", () => resolve());
    proc.kill("SIGKILL");
  });
}

// --- ports and probes ------------------------------------------------------------------------

/** Ports this process has handed out: the kernel may give a just-released port again at once. */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that is free now and that this process has not handed out before (two
 * calls in a row could otherwise get the same port, and two services of one test then collide).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const p = typeof address === "object" && address !== null ? address.port : 0;
        server.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("freePort: no port this process has not handed out already, in 50 tries");
}

/** Resolves true when a TCP connection to 127.0.0.1:port is accepted. */
export function acceptsConnections(port: number): Promise<boolean> {
  return exchange(port, undefined, () => true).then((r) => r === true);
}

async function waitUntilRefused(port: number): Promise<void> {
  const deadline = Date.now() + stopTimeoutMs;
  while (await acceptsConnections(port)) {
    if (Date.now() > deadline) {
      throw new Error(`port ${port} still accepts connections ${stopTimeoutMs} ms after the kill`);
    }
    await delay(25);
  }
}

/** Sends the inline command `PING` and resolves true on `+PONG`. */
function redisAnswersPing(port: number): Promise<boolean> {
  return exchange(port, Buffer.from("PING\r\n"), (data) =>
    data.includes("\r\n") ? data.toString().startsWith("+PONG\r\n") : undefined,
  ).then((r) => r === true);
}

/**
 * Sends an OP_MSG `{ ping: 1, $db: "admin" }` and resolves true when an OP_MSG reply to it arrives
 * whose document has `ok: 1`.
 */
function mongoAnswersPing(port: number): Promise<boolean> {
  const requestId = 1;
  return exchange(port, opMsg(requestId, { ping: 1, $db: "admin" }), (data) => {
    if (data.length < 4 || data.length < data.readInt32LE(0)) {
      return undefined; // wait for the whole message
    }
    // header: length, requestID, responseTo, opCode; then flagBits, section kind 0, document
    if (data.readInt32LE(8) !== requestId || data.readInt32LE(12) !== 2013) {
      return false;
    }
    // The reply document of a successful ping is { ok: 1.0 } (element type 0x01, name "ok").
    const okElement = Buffer.from([0x01, 0x6f, 0x6b, 0x00]);
    const at = data.indexOf(okElement, 21);
    return at > 0 && data.readDoubleLE(at + okElement.length) === 1;
  }).then((r) => r === true);
}

/** Encodes an OP_MSG with one body section holding a document of int32 and string fields. */
function opMsg(requestId: number, doc: Record<string, number | string>): Buffer {
  const elements = Object.entries(doc).map(([key, value]) => {
    const name = Buffer.from(`${key}\0`);
    if (typeof value === "number") {
      const v = Buffer.alloc(4);
      v.writeInt32LE(value);
      return Buffer.concat([Buffer.from([0x10]), name, v]);
    }
    const s = Buffer.from(`${value}\0`);
    const len = Buffer.alloc(4);
    len.writeInt32LE(s.length);
    return Buffer.concat([Buffer.from([0x02]), name, len, s]);
  });
  const body = Buffer.concat([...elements, Buffer.from([0])]);
  const bson = Buffer.concat([int32(body.length + 4), body]);
  const payload = Buffer.concat([int32(0), Buffer.from([0]), bson]); // flagBits, kind 0, document
  const header = Buffer.concat([
    int32(16 + payload.length),
    int32(requestId),
    int32(0),
    int32(2013),
  ]);
  return Buffer.concat([header, payload]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}

/**
 * Connects to 127.0.0.1:port, writes `request` (if any) and feeds everything received to `judge`
 * until it returns a boolean. Resolves with that boolean, or with undefined when the connection
 * fails, closes early or takes longer than a second.
 */
function exchange(
  port: number,
  request: Buffer | undefined,
  judge: (received: Buffer) => boolean | undefined,
): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let settled = false;
    const socket: Socket = connect({ host: "127.0.0.1", port });
    const finish = (result: boolean | undefined) => {
      if (!settled) {
        settled = true;
        socket.destroy();
        resolve(result);
      }
    };
    socket.setTimeout(1_000, () => finish(undefined));
    socket.once("error", () => finish(undefined));
    socket.once("close", () => finish(undefined));
    socket.once("connect", () => {
      if (request === undefined) {
        finish(judge(received));
      } else {
        socket.write(request);
      }
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const verdict = judge(received);
      if (verdict !== undefined) {
        finish(verdict);
      }
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
