/**
 * The ioredis client as the coordination adapters need it: commands fail fast while Redis is
 * unreachable (no offline queue) with `BackendUnavailableError`, and the client reconnects on its
 * own, forever, with capped exponential backoff, so a service recovers without a restart.
 */
import { Redis } from "ioredis";
import { BackendUnavailableError } from "../errors.js";

/** The part of a logger (pino's `Logger` fits) the client reports connection changes to. */
export interface RedisClientLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** How long a command on the shared client may take before it fails as a connection error. */
export const COMMAND_TIMEOUT_MS = 2_000;

/** Delay before reconnect attempt `times` (1, 2, ...): 100 ms doubling, at most 2 s, with jitter. */
export function reconnectDelayMs(times: number): number {
  const base = Math.min(100 * 2 ** Math.min(times - 1, 10), 2_000);
  return Math.round(base * (0.8 + Math.random() * 0.2));
}

/**
 * Creates a client that connects at once and keeps reconnecting. While disconnected, commands are
 * rejected immediately (`enableOfflineQueue: false`), and a command in flight when the connection
 * dropped fails after one reconnect attempt (`maxRetriesPerRequest: 1`). Connection errors are
 * logged once per outage, not on every attempt.
 */
export function createRedisClient(url: string, logger?: RedisClientLogger): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: reconnectDelayMs,
    lazyConnect: false,
    connectTimeout: 2_000,
    // A command on a connection that hangs (peer gone without a close) fails, as a connection
    // error, instead of waiting for the caller's deadline. No blocking command runs on this
    // client: the bus's XREAD BLOCK has its own connection, without this timeout.
    commandTimeout: COMMAND_TIMEOUT_MS,
  });
  let down = false;
  // Without an "error" listener ioredis prints every failed attempt to the console.
  client.on("error", (err: Error) => {
    if (down) return;
    down = true;
    logger?.warn({ backend: "redis", err: err.message }, "redis is unreachable; reconnecting");
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    logger?.info({ backend: "redis" }, "redis connection restored");
  });
  return client;
}

const CONNECTION_MESSAGES = [
  "Stream isn't writeable",
  "Connection is closed",
  "Command timed out",
  "Socket timeout",
];
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** True when `err` says Redis could not be reached, as opposed to a script or logic error. */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "MaxRetriesPerRequestError") return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
  // A server still loading its dataset answers "LOADING ..." to every command.
  if (err.message.startsWith("LOADING ")) return true;
  return CONNECTION_MESSAGES.some((m) => err.message.includes(m));
}

/** Runs `fn`, turning connection failures into `BackendUnavailableError("redis")`. */
export async function wrapRedisErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isRedisConnectionError(err)) throw new BackendUnavailableError("redis", err);
    throw err;
  }
}

/**
 * Runs a Redis call under the caller's signal: rejects at once with the signal's reason when it is
 * (or becomes) aborted, and maps connection failures. The command itself cannot be withdrawn.
 */
export function runRedis<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  if (!signal) return wrapRedisErrors(fn);
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    wrapRedisErrors(fn).then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** A readiness check (the shape of the runtime's `DependencyCheck`). */
export interface RedisCheck {
  readonly name: "redis";
  readonly check: (signal: AbortSignal) => Promise<void>;
  readonly watch: (changed: () => void) => () => void;
}

/** A readiness check that PINGs Redis; rejects with `BackendUnavailableError` while it is down. */
export function redisCheck(client: Redis): RedisCheck {
  return {
    name: "redis",
    check: async (signal) => {
      if (client.status !== "ready") {
        throw new BackendUnavailableError("redis", new Error(`connection ${client.status}`));
      }
      const reply = await runRedis(signal, () => client.ping());
      if (reply !== "PONG") throw new BackendUnavailableError("redis", new Error(`PING: ${reply}`));
    },
    // The client's own connection events re-run the check at once (a dropped connection, a
    // reconnect), so readiness does not wait for the next interval.
    watch: (changed) => {
      const events = ["close", "end", "error", "ready"] as const;
      for (const e of events) client.on(e, changed);
      return () => {
        for (const e of events) client.off(e, changed);
      };
    },
  };
}

/** A Lua script bound to a client, run by EVALSHA with a fallback to EVAL (ioredis defineCommand). */
export type RedisScript = (
  keys: readonly string[],
  args: readonly (string | number)[],
) => Promise<unknown>;

/** Defines `lua` on the client under `name` (once per client) and returns a caller for it. */
export function defineScript(
  client: Redis,
  name: string,
  numberOfKeys: number,
  lua: string,
): RedisScript {
  if (typeof Reflect.get(client, name) !== "function") {
    client.defineCommand(name, { numberOfKeys, lua });
  }
  return (keys, args) => {
    if (keys.length !== numberOfKeys) throw new Error(`${name} takes ${numberOfKeys} keys`);
    const command = Reflect.get(client, name) as (...a: (string | number)[]) => Promise<unknown>;
    return command.apply(client, [...keys, ...args]);
  };
}
