/** The parser of /proc/meminfo (proc(5)): "Key:   value kB" lines. */
import { toCount } from "./to-count.js";

/**
 * Parses the text of /proc/meminfo into its values by key (`MemTotal`, `MemAvailable`, ...).
 * Values printed with "kB" are in KiB despite the unit and come back in bytes; values without a
 * unit (`HugePages_Total`) come back as they are. Lines that are not "Key: number" are skipped.
 */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const [value, unit] = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const n = toCount(value);
    if (n !== undefined) values.set(line.slice(0, colon), unit === "kB" ? n * 1024 : n);
  }
  return values;
}
