/**
 * Records travel the event bus as JSON, where their Dates become ISO strings. A record's reader
 * revives them by naming where its Dates are: `"createTime"` (a field), `"deadlines.*"` (every
 * value of a nested object), `"lastExit.time"` (a field of a nested object).
 */

/** `json` with the Dates at `paths` revived; everything else as it is. */
export function reviveDates<T>(json: unknown, paths: readonly string[]): T {
  const out: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  for (const path of paths) {
    const [head, rest] = splitPath(path);
    if (rest === undefined) {
      out[head] = toDate(out[head]);
      continue;
    }
    const inner = out[head];
    if (inner === null || typeof inner !== "object") continue;
    out[head] =
      rest === "*"
        ? Object.fromEntries(Object.entries(inner).map(([k, v]) => [k, toDate(v)]))
        : reviveDates(inner, [rest]);
  }
  return out as T;
}

function splitPath(path: string): [string, string | undefined] {
  const dot = path.indexOf(".");
  return dot < 0 ? [path, undefined] : [path.slice(0, dot), path.slice(dot + 1)];
}

function toDate(v: unknown): unknown {
  return typeof v === "string" ? new Date(v) : v;
}
