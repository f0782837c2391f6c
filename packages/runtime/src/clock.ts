/**
 * The services' one clock convention: a `Clock` returns the current wall time as a Date, and every
 * class that reads "now" takes one as its `clock` option (default {@link systemClock}). Process tests
 * move time forward without sleeping through a clock file: real time plus an offset in milliseconds
 * read from that file ({@link createClock}).
 */
import { readFileSync } from "node:fs";

/** Returns the current time. */
export type Clock = () => Date;

/** Real time. */
export const systemClock: Clock = () => new Date();

/**
 * Real time, or, with `testClockFile` (the *_TEST_CLOCK_FILE of process tests), real time plus the
 * offset in milliseconds that file holds (none while it is missing or unreadable).
 */
export function createClock(testClockFile?: string): Clock {
  if (testClockFile === undefined) return systemClock;
  return () => {
    let offset = 0;
    try {
      const text = readFileSync(testClockFile, "utf8").trim();
      if (/^-?[0-9]{1,15}$/.test(text)) offset = Number(text);
    } catch {
      // no file yet: no offset
    }
    return new Date(Date.now() + offset);
  };
}
