/** The storage settings a service reads from env, next to the runtime's. */
import type { EnvReader } from "@lucid-rdp/runtime";

export interface StorageConfig {
  /** MONGODB_URI; unset: embedded in-memory stores. */
  readonly mongoUri?: string;
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
  return {
    mongoUri: r.url("MONGODB_URI", { protocols: ["mongodb:", "mongodb+srv:"] }),
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
