/**
 * Borderless, kubectl-style aligned columns. Hand-written rather than cli-table3, which draws
 * boxes and needs every border character blanked to look like this; here it is one loop, and
 * widths ignore ANSI colour codes.
 */
import { stripVTControlCharacters } from "node:util";

const width = (s: string) => stripVTControlCharacters(s).length;

/** `rows` under `headers`, columns padded to their widest cell, two spaces apart. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]) {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ""))));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + " ".repeat(widths[i]! - width(cell))))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** `pairs` as `key: value` lines, keys padded to the widest; pairs with an empty value are left out. */
export function renderFields(pairs: readonly (readonly [string, string])[]): string {
  const shown = pairs.filter(([, v]) => v !== "");
  const w = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${v}`).join("\n");
}
