/**
 * Opens the SQLite file that holds a service's embedded records (better-sqlite3: synchronous,
 * one connection per process, the fastest maintained SQLite binding for Node).
 *
 * Durability: WAL journal with `synchronous=FULL`, so a committed write survives a crash of the
 * process (kill -9) and of the machine; `busy_timeout` lets a restarting service wait for the
 * previous process to let go of the file.
 *
 * One process per file: the connection takes SQLite's lock in EXCLUSIVE locking mode and keeps it
 * until it closes (WAL then needs no shared-memory file). A second process on the same file waits
 * `busy_timeout` and then fails with {@link DatabaseInUseError}; embedded coordination (leases,
 * the event bus) is per process, so two processes on one file would both act as leader.
 *
 * better-sqlite3 is loaded here, on first use, through `require`: the service bundles keep it
 * external (a native module), and a process that never opens a file never loads it.
 */
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type BetterSqlite3 from "better-sqlite3";

/** An open SQLite database (better-sqlite3's). */
export type SqliteDatabase = BetterSqlite3.Database;

/** Thrown when another process holds the database file. */
export class DatabaseInUseError extends Error {
  override readonly name = "DatabaseInUseError";
  constructor(
    readonly path: string,
    cause?: unknown,
  ) {
    super(`${path} is in use by another process (one process per state file)`, { cause });
  }
}

export interface OpenSqliteOptions {
  /** How long to wait for a lock held by another process. @default 5000 */
  readonly busyTimeoutMs?: number;
}

/** Opens (creating it and its directory if needed) the database at `path`, or ":memory:". */
export function openSqliteDatabase(path: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  const Database = createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: options.busyTimeoutMs ?? 5_000 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    // Takes the exclusive lock now (a write transaction), so a second process fails at start,
    // not at its first write.
    db.exec("BEGIN IMMEDIATE; COMMIT");
  } catch (e) {
    db.close();
    if ((e as { code?: unknown }).code === "SQLITE_BUSY") throw new DatabaseInUseError(path, e);
    throw e;
  }
  return db;
}
