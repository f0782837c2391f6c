/**
 * Translates a Where into an SQL condition over the SQLite adapter's table (see
 * sqlite-collection.ts): `id` and `createTime` are columns, every other field is read from the
 * record's JSON with `json_extract(doc, '$.<field>')` (the same expression the spec's indexes are
 * built on, so SQLite uses them). Dates are stored as milliseconds, so a Date condition compares
 * numbers. Each comparison is guarded by the JSON type, so that values of other types never match,
 * as in the memory adapter (a string field is not `>= 5`, the number 1 is not `true`).
 */
import { operatorOf, type Where } from "./collection.js";

/** An SQL condition and its parameters, in order. */
export interface SqlCondition {
  readonly sql: string;
  readonly params: unknown[];
}

/** Fields that may be named in SQL text: plain identifiers only. */
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws unless `field` is a plain identifier (field names come from code, never from callers). */
export function checkField(field: string): string {
  if (!identifier.test(field))
    throw new Error(`field name ${JSON.stringify(field)} is not usable in a filter`);
  return field;
}

/** The SQL expression of a field's value. */
export function fieldExpr(field: string): string {
  if (field === "id") return "id";
  if (field === "createTime") return "create_time";
  if (field === "version") return "version";
  return `json_extract(doc, '$.${checkField(field)}')`;
}

function typeExpr(field: string): string | undefined {
  if (field === "id" || field === "createTime" || field === "version") return undefined;
  return `json_type(doc, '$.${checkField(field)}')`;
}

/** A value as SQLite compares it (Dates by time), or undefined when it never matches. */
function scalar(v: unknown): { value: number | string; kind: "number" | "text" } | undefined {
  if (v instanceof Date) return { value: v.getTime(), kind: "number" };
  if (typeof v === "number") return Number.isFinite(v) ? { value: v, kind: "number" } : undefined;
  if (typeof v === "string") return { value: v, kind: "text" };
  return undefined;
}

function typeGuard(field: string, kind: "number" | "text"): string {
  const t = typeExpr(field);
  if (t === undefined) return "";
  return kind === "number" ? ` AND ${t} IN ('integer', 'real')` : ` AND ${t} = 'text'`;
}

function equals(field: string, v: unknown, params: unknown[]): string {
  const t = typeExpr(field);
  if (v === null) return t === undefined ? "0" : `${t} = 'null'`;
  if (typeof v === "boolean") {
    if (t === undefined) return "0";
    params.push(v ? 1 : 0);
    return `(${fieldExpr(field)} = ? AND ${t} IN ('true', 'false'))`;
  }
  const s = scalar(v);
  if (s === undefined) return "0";
  params.push(s.value);
  return `(${fieldExpr(field)} = ?${typeGuard(field, s.kind)})`;
}

/** The SQL condition of `where` ("1" when it is empty). */
export function toSqlWhere<T>(where: Where<T> | undefined): SqlCondition {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [field, cond] of Object.entries(where ?? {})) {
    if (cond === undefined) continue;
    const op = operatorOf(cond);
    if (op === undefined) {
      parts.push(equals(field, cond, params));
      continue;
    }
    switch (op.op) {
      case "in":
        parts.push(
          op.value.length === 0
            ? "0"
            : `(${op.value.map((v) => equals(field, v, params)).join(" OR ")})`,
        );
        break;
      case "exists": {
        const t = typeExpr(field);
        if (t === undefined) parts.push(op.value ? "1" : "0");
        else parts.push(`${t} IS ${op.value ? "NOT NULL" : "NULL"}`);
        break;
      }
      case "contains": {
        const path = field === "id" || field === "createTime" ? undefined : checkField(field);
        for (const [k, v] of Object.entries(op.value)) {
          if (path === undefined) {
            parts.push("0");
            continue;
          }
          params.push(k, v);
          parts.push(
            `EXISTS (SELECT 1 FROM json_each(doc, '$.${path}') AS e WHERE e.key = ? AND e.value = ? AND e.type = 'text')`,
          );
        }
        break;
      }
      case "lt":
      case "gte": {
        const s = scalar(op.value);
        if (s === undefined) {
          parts.push("0");
          break;
        }
        params.push(s.value);
        parts.push(
          `(${fieldExpr(field)} ${op.op === "lt" ? "<" : ">="} ?${typeGuard(field, s.kind)})`,
        );
        break;
      }
    }
  }
  return { sql: parts.length === 0 ? "1" : parts.join(" AND "), params };
}
