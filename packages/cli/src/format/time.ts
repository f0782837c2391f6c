/** Timestamps as people read them: local time and how long ago (or until). */
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

const pad = (n: number) => String(n).padStart(2, "0");

/** How far `d` is from `now`: "12s ago", "5m ago", "3h ago", "2d ago", or "in 5m". */
export function relative(d: Date, now: Date): string {
  const diff = Math.round((now.getTime() - d.getTime()) / 1000);
  const s = Math.abs(diff);
  const text =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m`
        : s < 86_400
          ? `${Math.floor(s / 3600)}h`
          : `${Math.floor(s / 86_400)}d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** `d` in local time: `2026-12-06 17:30:01`. */
export function localTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A timestamp field for a table or a detail view: local time and relative, `17:30:01 (3m ago)`
 * on the day of `now`, else with the date; "" when absent.
 */
export function when(t: Timestamp | undefined, now: Date): string {
  if (t === undefined) return "";
  const d = timestampDate(t);
  const full = localTime(d);
  const shown = full.slice(0, 10) === localTime(now).slice(0, 10) ? full.slice(11) : full;
  return `${shown} (${relative(d, now)})`;
}
