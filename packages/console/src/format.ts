/**
 * Pure formatting shared by the panels: ids, times and sizes as the tables show them.
 */
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";

/** The first 8 characters of an id: enough to tell rows apart; the full id goes in a title. */
export const shortId = (id: string) => id.slice(0, 8);

/** A protobuf Timestamp as a Date; undefined stays undefined. */
export const dateOf = (t: Timestamp | undefined) =>
  t === undefined ? undefined : timestampDate(t);

/** How long ago `d` was: "12s ago", "5m ago", "3h ago", else the local date; "–" when unknown. */
export function ago(d: Date | undefined, now: number = Date.now()): string {
  if (d === undefined) return "–";
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return d.toLocaleDateString();
}

/** A byte count in binary units: "512 B", "1.5 KiB", "12 MiB", up to TiB. */
export function bytes(n: number | bigint): string {
  let v = Number(n);
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (v < 1024 || unit === "TiB") return `${v.toFixed(v < 10 && unit !== "B" ? 1 : 0)} ${unit}`;
    v /= 1024;
  }
  return `${v}`;
}

/** A failed call as the page shows it: "<Code>: <message>", without the code prefix Connect adds. */
export function errorText(e: unknown): string {
  const err = ConnectError.from(e);
  return `${Code[err.code]}: ${err.rawMessage}`;
}

/** A percentage with one decimal: "12.5%". */
export const percent = (v: number) => `${v.toFixed(1)}%`;

/** A length of time in seconds, coarse: "45s", "12m 5s", "3h 20m", "2d 4h". */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** A date and time in the browser's locale and time zone, "–" when unknown. */
export const when = (d: Date | undefined) => (d === undefined ? "–" : d.toLocaleString());
