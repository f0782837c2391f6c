/** Durations as people read them. */
import type { Duration } from "@bufbuild/protobuf/wkt";

/** `ms` as `1h30m`, `5m`, `90s` → `1m30s`, `500ms`; the largest units first. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join("");
}

/** A protobuf Duration, or "" when absent. */
export function formatDuration(d: Duration | undefined): string {
  if (d === undefined) return "";
  return formatMs(Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6));
}
