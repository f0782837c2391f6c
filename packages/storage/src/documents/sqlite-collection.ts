/**
 * The Collection on SQLite (an embedded file database): state that survives a restart without a
 * MongoDB. Same semantics as the memory and MongoDB adapters, checked by the same contract suite.
 *
 * Table `<name>`: `id` (primary key), `version`, `create_time` (ms), `doc` (the record as JSON,
 * Dates as ms: sqlite-codec.ts) and `dates` (where the Dates are). Indexes: list order
 * (create_time, id), and `json_extract(doc, '$.<field>')` for each of the spec's `indexes`, which
 * the filters use (sqlite-where.ts): list, count and findOne read only the rows they return
 * (and the index entries that lead to them), never the whole table in JavaScript.
 * Table `<name>__unique`: one row per (rule, key) -> id, primary key (rule, key): the unique
 * rules, derived by their `key` functions in code as the other adapters do. A trigger drops a
 * record's keys with it. When the spec's rule names change, the keys are derived afresh at open.
 *
 * Every write is one IMMEDIATE transaction that reads the version and writes (better-sqlite3 is
 * synchronous, so no other call of this process interleaves; IMMEDIATE also holds off any other
 * connection). A signal is checked before each call; a call, once started, completes.
 */

import type BetterSqlite3 from "better-sqlite3";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidPageTokenError,
  NotFoundError,
} from "../errors.js";
import {
  type CallOptions,
  type Changes,
  type Collection,
  type CollectionSpec,
  decodePageToken,
  effectivePageSize,
  encodePageToken,
  type ListOptions,
  type NewRecord,
  type Page,
  type Versioned,
  type Where,
} from "./collection.js";
import { decodeRecord, encodeRecord } from "./sqlite-codec.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { checkField, fieldExpr, toSqlWhere } from "./sqlite-where.js";

export interface SqliteCollectionOptions {
  /** The clock for createTime/updateTime. @default () => new Date() */
  readonly now?: () => Date;
}

interface Row {
  readonly id: string;
  readonly version: number;
  readonly doc: string;
  readonly dates: string;
}

function isConstraint(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT");
}

function checkSignal(opts?: CallOptions): void {
  opts?.signal?.throwIfAborted();
}

/** Creates the collection's tables and indexes (if missing) on `db` and returns the collection. */
export function createSqliteCollection<T extends Versioned>(
  db: SqliteDatabase,
  spec: CollectionSpec<T>,
  options: SqliteCollectionOptions = {},
): Collection<T> {
  const now = options.now ?? (() => new Date());
  const rules = spec.unique ?? [];
  const table = `"${checkField(spec.name)}"`;
  const keysTable = `"${spec.name}__unique"`;

  db.exec(`
    CREATE TABLE IF NOT EXISTS ${table} (
      id TEXT PRIMARY KEY NOT NULL,
      version INTEGER NOT NULL,
      create_time INTEGER NOT NULL,
      doc TEXT NOT NULL,
      dates TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS "${spec.name}__list_order" ON ${table} (create_time DESC, id DESC);
    CREATE TABLE IF NOT EXISTS ${keysTable} (
      rule TEXT NOT NULL,
      key TEXT NOT NULL,
      id TEXT NOT NULL,
      PRIMARY KEY (rule, key)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS "${spec.name}__unique_by_id" ON ${keysTable} (id);
    CREATE TRIGGER IF NOT EXISTS "${spec.name}__drop_keys" AFTER DELETE ON ${table}
      BEGIN DELETE FROM ${keysTable} WHERE id = old.id; END;
    CREATE TABLE IF NOT EXISTS lucid_collections (name TEXT PRIMARY KEY NOT NULL, rules TEXT NOT NULL);
  `);
  for (const field of spec.indexes ?? []) {
    db.exec(
      `CREATE INDEX IF NOT EXISTS "${spec.name}__by_${checkField(field)}" ON ${table} (${fieldExpr(field)})`,
    );
  }

  const selectOne = db.prepare<[string], Row>(
    `SELECT id, version, doc, dates FROM ${table} WHERE id = ?`,
  );
  const insertRow = db.prepare(
    `INSERT INTO ${table} (id, version, create_time, doc, dates) VALUES (?, ?, ?, ?, ?)`,
  );
  const updateRow = db.prepare(`UPDATE ${table} SET version = ?, doc = ?, dates = ? WHERE id = ?`);
  const deleteRow = db.prepare(`DELETE FROM ${table} WHERE id = ?`);
  const insertKey = db.prepare(`INSERT INTO ${keysTable} (rule, key, id) VALUES (?, ?, ?)`);
  const deleteKeys = db.prepare(`DELETE FROM ${keysTable} WHERE id = ?`);

  const decode = (row: Row): T => decodeRecord<T>(row.doc, row.dates);
  /** Statements of filtered reads, by SQL text: a service uses a handful of filter shapes. */
  const statements = new Map<string, BetterSqlite3.Statement<unknown[]>>();
  const prepared = (sql: string) => {
    let s = statements.get(sql);
    if (s === undefined) {
      if (statements.size >= 256) statements.clear();
      s = db.prepare<unknown[]>(sql);
      statements.set(sql, s);
    }
    return s;
  };

  /** Writes the record's unique keys; throws AlreadyExistsError naming the rule that clashed. */
  const writeKeys = (record: T): void => {
    for (const rule of rules) {
      const key = rule.key(record);
      if (key === undefined) continue;
      try {
        insertKey.run(rule.name, key, record.id);
      } catch (e) {
        if (isConstraint(e)) throw new AlreadyExistsError(spec.name, rule.name, key);
        throw e;
      }
    }
  };

  // The keys follow the rules in code: derived afresh when the rule names changed since last open.
  const ruleNames = JSON.stringify(rules.map((r) => r.name));
  const known = db
    .prepare<[string], { rules: string }>("SELECT rules FROM lucid_collections WHERE name = ?")
    .get(spec.name);
  if (known?.rules !== ruleNames) {
    db.transaction(() => {
      db.exec(`DELETE FROM ${keysTable}`);
      // Read first: better-sqlite3 allows no write while a statement iterates.
      const rows = db.prepare<[], Row>(`SELECT id, version, doc, dates FROM ${table}`).all();
      for (const row of rows) writeKeys(decode(row));
      db.prepare("INSERT OR REPLACE INTO lucid_collections (name, rules) VALUES (?, ?)").run(
        spec.name,
        ruleNames,
      );
    }).immediate();
  }

  const mustGet = (id: string): Row => {
    const row = selectOne.get(id);
    if (row === undefined) throw new NotFoundError(spec.name, id);
    return row;
  };

  const insertTx = db.transaction((record: T) => {
    const { json, dates } = encodeRecord(record);
    try {
      insertRow.run(record.id, 1, record.createTime.getTime(), json, dates);
    } catch (e) {
      if (isConstraint(e)) throw new AlreadyExistsError(spec.name, "id", record.id);
      throw e;
    }
    writeKeys(record);
  });

  const updateTx = db.transaction((id: string, expectedVersion: number, changes: Changes<T>) => {
    const current = decode(mustGet(id));
    if (current.version !== expectedVersion)
      throw new ConflictError(spec.name, id, expectedVersion);
    const next = { ...current } as Record<string, unknown>;
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) delete next[k];
      else next[k] = v;
    }
    next.version = current.version + 1;
    next.updateTime = now();
    const record = next as unknown as T;
    deleteKeys.run(id);
    writeKeys(record);
    const { json, dates } = encodeRecord(record);
    updateRow.run(record.version, json, dates, id);
    // What was stored, as a reader gets it (no reference into the caller's changes).
    return decodeRecord<T>(json, dates);
  });

  const deleteTx = db.transaction((id: string, expectedVersion: number | undefined) => {
    const row = mustGet(id);
    if (expectedVersion !== undefined && row.version !== expectedVersion) {
      throw new ConflictError(spec.name, id, expectedVersion);
    }
    deleteRow.run(id);
  });

  const select = (
    where: Where<T> | undefined,
    after: { time: number; id: string } | undefined,
    limit: number,
  ): T[] => {
    const cond = toSqlWhere(where);
    const params = [...cond.params];
    let sql = `SELECT id, version, doc, dates FROM ${table} WHERE ${cond.sql}`;
    if (after !== undefined) {
      sql += " AND (create_time < ? OR (create_time = ? AND id < ?))";
      params.push(after.time, after.time, after.id);
    }
    sql += " ORDER BY create_time DESC, id DESC LIMIT ?";
    params.push(limit);
    return (prepared(sql).all(...params) as Row[]).map(decode);
  };

  return {
    name: spec.name,
    async insert(input: NewRecord<T>, opts) {
      checkSignal(opts);
      const t = now();
      const record = { ...input, version: 1, createTime: t, updateTime: t } as unknown as T;
      insertTx.immediate(record);
      const { json, dates } = encodeRecord(record);
      return decodeRecord<T>(json, dates);
    },
    async get(id, opts) {
      checkSignal(opts);
      return decode(mustGet(id));
    },
    async find(id, opts) {
      checkSignal(opts);
      const row = selectOne.get(id);
      return row === undefined ? undefined : decode(row);
    },
    async findOne(where, opts) {
      checkSignal(opts);
      return select(where, undefined, 1)[0];
    },
    async update(id, expectedVersion, changes: Changes<T>, opts) {
      checkSignal(opts);
      return updateTx.immediate(id, expectedVersion, changes);
    },
    async delete(id, expectedVersion, opts) {
      checkSignal(opts);
      deleteTx.immediate(id, expectedVersion);
    },
    async list(opts: ListOptions<T> = {}): Promise<Page<T>> {
      checkSignal(opts);
      const size = effectivePageSize(opts.pageSize);
      let after: { time: number; id: string } | undefined;
      if (opts.pageToken) {
        after = decodePageToken(spec.name, opts.pageToken);
        if (after === undefined) throw new InvalidPageTokenError(spec.name);
      }
      const rows = select(opts.where, after, size + 1);
      const items = rows.slice(0, size);
      const last = items[items.length - 1];
      return {
        items,
        nextPageToken: rows.length > size && last ? encodePageToken(spec.name, last) : "",
      };
    },
    async count(where, opts) {
      checkSignal(opts);
      const cond = toSqlWhere(where);
      const row = prepared(`SELECT count(*) AS n FROM ${table} WHERE ${cond.sql}`).get(
        ...cond.params,
      ) as { n: number } | undefined;
      return row?.n ?? 0;
    },
    async deleteWhere(where, opts) {
      checkSignal(opts);
      const cond = toSqlWhere(where);
      return db
        .transaction(
          () => prepared(`DELETE FROM ${table} WHERE ${cond.sql}`).run(...cond.params).changes,
        )
        .immediate();
    },
  };
}
