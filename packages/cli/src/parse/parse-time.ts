/** Points in time for `--since` and `--until`: an ISO 8601 date-time, or a duration ago. */
import { InvalidArgumentError } from "commander";
import { parseDuration } from "./parse-duration.js";

/** `text` as a Date: `2026-12-06T17:00:00Z`, `2026-12-06` (local midnight) or `1h` (an hour ago). */
export function parseTime(text: string, now: Date = new Date()): Date {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)/.test(text.trim())) {
    return new Date(now.getTime() - parseDuration(text));
  }
  const t = text.trim();
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00` : t);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(
      `"${text}" is not a time: use an ISO date-time (2026-12-06T17:00:00Z), a date, or a duration ago (1h)`,
    );
  }
  return date;
}
