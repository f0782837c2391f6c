/**
 * Durations as operators type them: `90s`, `5m`, `1h30m`, `2d`, `500ms`, or a bare number of
 * seconds. Hand-written: the common packages (ms, parse-duration) either reject compound values
 * like `1h30m` or accept units (years, months) whose length is ambiguous; this is a dozen lines.
 */
import { InvalidArgumentError } from "commander";

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** `text` in milliseconds; throws commander's InvalidArgumentError (exit 2) when malformed. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  let total = 0;
  part.lastIndex = 0;
  let matched = 0;
  for (let m = part.exec(t); m !== null; m = part.exec(t)) {
    total += Number(m[1]) * (unitMs[m[2] as string] as number);
    matched = part.lastIndex;
  }
  if (t === "" || matched !== t.length) {
    throw new InvalidArgumentError(
      `"${text}" is not a duration: use e.g. 90s, 5m, 1h30m, 2d (units ms, s, m, h, d)`,
    );
  }
  return Math.round(total);
}
