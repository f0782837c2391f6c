/**
 * Picks the backends from config: MongoDB and Redis when MONGODB_URI / REDIS_URL are set, the
 * embedded adapters otherwise: records in `<DATA_DIR>/<appName>.sqlite` (kept across restarts) or
 * in memory (EMBEDDED_STATE=memory), coordination in this process (one warning line says so).
 *
 * A backend that is down at start does not stop the service: it starts NOT_SERVING (the health
 * checks below fail), keeps reconnecting with backoff, and serves once the backend answers.
 * Mongo-backed stores refuse calls with BackendUnavailableError until their indexes exist, so a
 * uniqueness rule is never silently missing.
 */

import { join } from "node:path";
import { ConfigError, type DependencyCheck, type Logger } from "@lucid-rdp/runtime";
import { MongoClient } from "mongodb";
import type { StorageConfig } from "./config.js";
import {
  type Coordination,
  createMemoryCoordination,
  createRedisClient,
  createRedisCoordination,
  redisCheck,
} from "./coordination/index.js";
import type { Collection, Versioned } from "./documents/collection.js";
import {
  DatabaseInUseError,
  openSqliteDatabase,
  type SqliteDatabase,
} from "./documents/sqlite-database.js";
import { BackendUnavailableError } from "./errors.js";
import {
  createMemoryStores,
  createMongoStores,
  createSqliteStores,
  type SpecMap,
  type StoresOf,
} from "./stores/stores.js";

export interface Backends<S extends SpecMap = SpecMap> {
  /** The service's collections, one per spec it asked for. */
  readonly stores: StoresOf<S>;
  readonly coordination: Coordination;
  /** Health checks of the real backends (none for embedded ones). */
  readonly checks: readonly DependencyCheck[];
  /** Which backend serves what, for the startup line. */
  readonly kind: {
    readonly state: "mongodb" | "sqlite" | "memory";
    readonly coordination: "redis" | "memory";
  };
  close(): Promise<void>;
}

export interface OpenBackendsOptions<S extends SpecMap = SpecMap> {
  /** The service's collections (its store/specs.ts), by name. */
  readonly specs: S;
  readonly logger: Logger;
  /** The service's name: sent to MongoDB as appName; names its embedded state file. */
  readonly appName?: string;
  /** Backoff of the index-ensuring loop. @default 500 (doubling to 30 s) */
  readonly retryMs?: number;
  /** The clock that stamps createTime/updateTime. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * How long every MongoDB heartbeat may fail before the client is connected afresh.
   * @default 15000
   */
  readonly mongoStuckAfterMs?: number;
}

/**
 * Opens the configured backends without waiting for them to be reachable.
 * @throws ConfigError naming DATA_DIR when another process holds the state file
 */
export function openBackends<S extends SpecMap>(
  cfg: StorageConfig,
  opts: OpenBackendsOptions<S>,
): Backends<S> {
  const { logger } = opts;
  const checks: DependencyCheck[] = [];
  const closers: Array<() => Promise<void>> = [];
  let statePath: string | undefined;

  let stores: StoresOf<S>;
  if (cfg.mongoUri === undefined && cfg.embedded === "sqlite") {
    statePath = join(cfg.dataDir ?? "data", `${opts.appName ?? "lucid-rdp"}.sqlite`);
    const db = openStateFile(statePath);
    stores = createSqliteStores(db, opts.specs, { now: opts.now });
    closers.push(async () => {
      db.close();
    });
  } else if (cfg.mongoUri === undefined) {
    stores = createMemoryStores(opts.specs, { now: opts.now });
  } else {
    const client = new MongoClient(cfg.mongoUri, {
      appName: opts.appName,
      ignoreUndefined: true,
      serverSelectionTimeoutMS: 2_000,
      connectTimeoutMS: 2_000,
      socketTimeoutMS: 10_000,
      // The driver's monitor notices a dead or returned server within this (the check below
      // follows its heartbeat events), rather than its default 10 s.
      heartbeatFrequencyMS: 1_000,
    });
    // What the driver's monitor last saw of each server: its failure, or undefined once it answered.
    const seen = new Map<string, string | undefined>();
    const allDown = () => seen.size > 0 && [...seen.values()].every((f) => f !== undefined);
    // The health monitor's callbacks (DependencyCheck.watch), told when the check may have changed.
    const watchers = new Set<() => void>();
    const db = client.db(cfg.mongoDb);
    const mongo = createMongoStores(db, opts.specs, {
      writeConcern: { w: cfg.writeConcern },
      now: opts.now,
    });
    const ready = { ok: false, lastError: "not tried yet" };
    const stop = new AbortController();
    const ensure = async () => {
      let delay = opts.retryMs ?? 500;
      while (!stop.signal.aborted) {
        try {
          // Connected explicitly, on every attempt: a connect that fails (MongoDB not up yet)
          // leaves the driver (7.x) holding the closed topology, and its auto-connect never tries
          // again ("Topology is closed" for good); connect() makes a new one while unconnected.
          await client.connect();
          await mongo.ensureIndexes({ signal: stop.signal });
          ready.ok = true;
          for (const w of watchers) w();
          logger.info({ backend: "mongodb", db: cfg.mongoDb }, "mongodb indexes ensured");
          return;
        } catch (e) {
          if (stop.signal.aborted) return;
          ready.lastError = e instanceof Error ? e.message : String(e);
          logger.warn({ backend: "mongodb", err: e, retryInMs: delay }, "mongodb not ready");
          await new Promise((r) => setTimeout(r, delay).unref());
          delay = Math.min(delay * 2, 30_000);
        }
      }
    };
    void ensure();
    // The driver's monitor was seen stuck after a MongoDB-wire server came back under load (the
    // chaos tests, FerretDB killed mid-burst): every heartbeat failing with the same closed
    // connection for minutes while the server answered the other replicas again. After
    // `stuckAfterMs` of nothing but failed heartbeats the client is closed and connected afresh: a
    // closed MongoClient connects again with a new topology, and the collections follow it. While
    // the server is really down this only repeats a connect that fails, every `stuckAfterMs`.
    const stuckAfterMs = opts.mongoStuckAfterMs ?? 15_000;
    let downSince: number | undefined;
    let reconnecting = false;
    const watchdog = setInterval(() => {
      if (!ready.ok || reconnecting || stop.signal.aborted) return;
      if (!allDown()) {
        downSince = undefined;
        return;
      }
      downSince ??= Date.now();
      if (Date.now() - downSince < stuckAfterMs) return;
      reconnecting = true;
      logger.warn(
        { backend: "mongodb", downForMs: Date.now() - downSince, seen: [...seen.values()] },
        "mongodb heartbeats failing for long: connecting the client afresh",
      );
      void (async () => {
        try {
          await client.close();
          if (stop.signal.aborted) return;
          seen.clear();
          await client.connect();
        } catch (e) {
          logger.warn(
            { backend: "mongodb", err: e },
            "mongodb reconnect failed: tried again later",
          );
        } finally {
          downSince = undefined;
          reconnecting = false;
          for (const w of watchers) w();
        }
      })();
    }, 1_000);
    watchdog.unref();
    stores = gateStores(opts.specs, mongo, () => ready.ok);
    checks.push({
      name: "mongodb",
      check: async (signal) => {
        if (!ready.ok) throw new Error(`indexes not ensured yet: ${ready.lastError}`);
        if (allDown()) {
          throw new BackendUnavailableError("mongodb", new Error([...seen.values()].join("; ")));
        }
        await db.command({ ping: 1 }, { signal });
      },
      // The driver's heartbeats and pool events re-run the check at once.
      watch: (changed) => {
        const failed = (e: { connectionId: string; failure?: unknown }) => {
          const was = allDown();
          seen.set(e.connectionId, e.failure instanceof Error ? e.failure.message : "no heartbeat");
          if (!was) changed();
        };
        const succeeded = (e: { connectionId: string }) => {
          const was = allDown();
          seen.set(e.connectionId, undefined);
          if (was) changed();
        };
        const cleared = () => changed();
        watchers.add(changed);
        client.on("serverHeartbeatFailed", failed);
        client.on("serverHeartbeatSucceeded", succeeded);
        client.on("connectionPoolCleared", cleared);
        return () => {
          watchers.delete(changed);
          client.off("serverHeartbeatFailed", failed);
          client.off("serverHeartbeatSucceeded", succeeded);
          client.off("connectionPoolCleared", cleared);
        };
      },
    });
    closers.push(async () => {
      stop.abort();
      clearInterval(watchdog);
      await client.close();
    });
  }

  let coordination: Coordination;
  if (cfg.redisUrl === undefined) {
    coordination = createMemoryCoordination();
  } else {
    const client = createRedisClient(cfg.redisUrl, logger);
    coordination = createRedisCoordination(client);
    checks.push(redisCheck(client));
    closers.push(async () => {
      client.disconnect();
    });
  }

  const embeddedLine = describeEmbedded(cfg, statePath);
  if (embeddedLine !== undefined) logger.warn({ state: statePath }, embeddedLine);

  return {
    stores,
    coordination,
    checks,
    kind: {
      state: cfg.mongoUri !== undefined ? "mongodb" : (cfg.embedded ?? "memory"),
      coordination: cfg.redisUrl === undefined ? "memory" : "redis",
    },
    async close() {
      for (const c of closers) await c();
    },
  };
}

/**
 * The one line that says what is embedded and what that means now, or undefined when nothing is:
 * records in a file persist; in memory they are lost on exit; coordination in this process (port
 * leases, locks, counters, the event bus) is lost on restart and cannot be shared by replicas.
 */
export function describeEmbedded(cfg: StorageConfig, statePath?: string): string | undefined {
  const parts: string[] = [];
  if (cfg.mongoUri === undefined) {
    parts.push(
      statePath === undefined
        ? "records in memory, lost on exit"
        : `records in ${statePath}, kept across restarts`,
    );
  }
  if (cfg.redisUrl === undefined) {
    parts.push("leases, locks and events in this process, lost on restart");
  }
  if (parts.length === 0) return undefined;
  const unset = [
    ...(cfg.mongoUri === undefined ? ["MONGODB_URI"] : []),
    ...(cfg.redisUrl === undefined ? ["REDIS_URL"] : []),
  ];
  return `embedded state: ${parts.join("; ")}; one replica only (set ${unset.join(" and ")} to share)`;
}

/**
 * Opens a service's state file; one held by another process is a ConfigError naming DATA_DIR
 * (the service's main reports it in one line and exits 2).
 */
function openStateFile(path: string): SqliteDatabase {
  try {
    return openSqliteDatabase(path);
  } catch (e) {
    if (e instanceof DatabaseInUseError) {
      throw new ConfigError(
        "DATA_DIR",
        `${path} is in use by another process: stop that one, or give this one a DATA_DIR of its own`,
      );
    }
    throw e;
  }
}

/** Wraps every collection so that calls fail with UNAVAILABLE until `ready()` is true. */
function gateStores<S extends SpecMap>(
  specs: S,
  stores: StoresOf<S>,
  ready: () => boolean,
): StoresOf<S> {
  const gate = <T extends Versioned>(c: Collection<T>): Collection<T> =>
    new Proxy(c, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          if (!ready()) {
            return Promise.reject(
              new BackendUnavailableError("mongodb", new Error("indexes not ensured yet")),
            );
          }
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const all = stores as unknown as Record<string, Collection<Versioned>>;
  return Object.fromEntries(
    Object.keys(specs).map((k) => [k, gate(all[k] as Collection<Versioned>)]),
  ) as StoresOf<S>;
}
