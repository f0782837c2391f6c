/**
 * What every service's main.ts does around its server: read config (a bad value exits 2 naming
 * the variable), stop gracefully on SIGTERM/SIGINT (exit 0; a second signal forces exit 1), and log
 * a crash before exiting 1.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type Env, EnvReader, exitOnConfigError } from "./config.js";
import type { Logger } from "./logger.js";
import { type RuntimeConfig, type RuntimeDefaults, readRuntimeConfig } from "./runtime-config.js";
import { ListenError } from "./server.js";

export interface LoadedConfig<C> {
  readonly runtime: RuntimeConfig;
  readonly own: C;
}

/**
 * Reads the shared settings and the service's own (`own` reads them with the same typed readers);
 * on a bad value prints one line and exits 2.
 */
export function loadConfig<C = undefined>(
  defaults: RuntimeDefaults,
  own?: (env: EnvReader, runtime: RuntimeConfig) => C,
  env: Env = process.env,
): LoadedConfig<C> {
  return exitOnConfigError(() => {
    const runtime = readRuntimeConfig(defaults, env);
    return { runtime, own: own ? own(new EnvReader(env), runtime) : (undefined as C) };
  });
}

/**
 * Shuts `server` down on SIGTERM or SIGINT and exits 0; a second signal exits 1 at once. An
 * uncaught error or unhandled rejection exits 1 as Node would, but first lands in the structured
 * log (Node's own report goes to stderr, where log collectors do not look).
 */
export function exitOnSignals(server: { shutdown(): Promise<void> }, logger: Logger): void {
  const crash = (kind: string) => (e: unknown) => {
    if (isDeferredGoawayError(e)) {
      logger.warn(
        { err: e.rawMessage },
        "a peer closed an idle connection (GOAWAY); its late error was ignored (connect-es#1768)",
      );
      return;
    }
    logger.fatal({ err: e }, `${kind}: exiting`);
    process.exit(1);
  };
  process.on("uncaughtException", crash("uncaught exception"));
  process.on("unhandledRejection", crash("unhandled rejection"));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "signal received");
    server.shutdown().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/**
 * The one uncaught error that is not a crash: connect-node destroys an idle HTTP/2 connection
 * whose peer sent GOAWAY (a peer restarting) with this error, and Node raises it after the
 * client has already moved on to a new connection, with no listener left
 * (connectrpc/connect-es#1768, open). The connection is gone and nothing else is affected, so the
 * process goes on; every other uncaught error still ends it.
 */
export function isDeferredGoawayError(e: unknown): e is ConnectError {
  return (
    e instanceof ConnectError &&
    e.code === Code.Canceled &&
    e.rawMessage === "received GOAWAY without any open streams"
  );
}

/**
 * Awaits a starting server; when its port cannot be bound (ListenError) prints that one line and
 * exits 1, instead of Node's stack trace of an uncaught `listen EADDRINUSE`.
 */
export async function listenOrExit<T>(starting: Promise<T>): Promise<T> {
  try {
    return await starting;
  } catch (e) {
    if (!(e instanceof ListenError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
