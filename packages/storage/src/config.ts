/** The storage settings a service reads from env, next to the runtime's. */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, type EnvReader } from "@lucid-rdp/runtime";

export interface StorageConfig {
  /** MONGODB_URI; unset: embedded stores (see `embedded`). */
  readonly mongoUri?: string;
  /**
   * EMBEDDED_STATE: where records live without MONGODB_URI. "sqlite": a file per service under
   * `dataDir`, kept across restarts; "memory": this process only (tests). readStorageConfig
   * defaults it to "sqlite"; a config built by hand without it stays in memory.
   * @default "memory"
   */
  readonly embedded?: "sqlite" | "memory";
  /** DATA_DIR, absolute: the directory of the embedded state files. @default "<cwd>/data" */
  readonly dataDir?: string;
  /** MONGODB_DB. @default "lucid_rdp" */
  readonly mongoDb: string;
  /** MONGODB_WRITE_CONCERN: "majority" or a number of nodes. @default "majority" */
  readonly writeConcern: "majority" | number;
  /** REDIS_URL; unset: embedded in-process coordination. */
  readonly redisUrl?: string;
  /** How long a request_id is remembered (IDEMPOTENCY_TTL_MS). @default 24 h */
  readonly idempotencyTtlMs: number;
  /** How long audit events are kept (AUDIT_RETENTION_MS). @default 30 days */
  readonly auditRetentionMs: number;
}

/** Reads the storage settings; throws ConfigError naming the variable on a bad value. */
export function readStorageConfig(r: EnvReader): StorageConfig {
  const wc = r.string("MONGODB_WRITE_CONCERN", {
    default: "majority",
    pattern: /^(majority|[0-9]{1,2})$/,
    accepts: "majority or a number of nodes (0-99)",
  });
  const mongoUri = r.url("MONGODB_URI", { protocols: ["mongodb:", "mongodb+srv:"] });
  const embedded = r.oneOf("EMBEDDED_STATE", ["sqlite", "memory"] as const, "sqlite");
  const dataDir = resolve(r.raw("DATA_DIR") ?? "data");
  // Checked only where it is used, so that a service on MongoDB never cares about it.
  if (mongoUri === undefined && embedded === "sqlite") checkDataDir(dataDir, r.raw("DATA_DIR"));
  return {
    mongoUri,
    embedded,
    dataDir,
    mongoDb:
      r.string("MONGODB_DB", {
        default: "lucid_rdp",
        pattern: /^[A-Za-z0-9_-]{1,63}$/,
        accepts: "a database name of 1-63 letters, digits, _ and -",
      }) ?? "lucid_rdp",
    writeConcern: wc === "majority" || wc === undefined ? "majority" : Number(wc),
    redisUrl: r.url("REDIS_URL", { protocols: ["redis:", "rediss:"] }),
    idempotencyTtlMs: r.int("IDEMPOTENCY_TTL_MS", {
      default: 24 * 3600_000,
      min: 60_000,
      max: 30 * 24 * 3600_000,
    }),
    auditRetentionMs: r.int("AUDIT_RETENTION_MS", {
      default: 30 * 24 * 3600_000,
      min: 3600_000,
      max: 3650 * 24 * 3600_000,
    }),
  };
}

/**
 * Throws ConfigError naming DATA_DIR unless `dir` is a writable directory, or can be created: its
 * nearest existing ancestor is a writable directory.
 */
function checkDataDir(dir: string, raw: string | undefined): void {
  const accepts = "a writable directory, or a path where one can be created";
  let path = dir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      const parent = dirname(path);
      if (parent === path) throw new ConfigError("DATA_DIR", accepts, raw ?? dir);
      path = parent;
      continue;
    }
    if (!isDir)
      throw new ConfigError("DATA_DIR", `${accepts} (${path} is not a directory)`, raw ?? dir);
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
    } catch {
      throw new ConfigError("DATA_DIR", `${accepts} (${path} is not writable)`, raw ?? dir);
    }
    return;
  }
}
