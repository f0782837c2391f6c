/**
 * The service's clock. Real time, or, for process tests (SESSION_TEST_CLOCK_FILE), real time plus
 * an offset in milliseconds read from a file, so that a test can move time forward and watch the
 * timers act without sleeping.
 */
import { readFileSync } from "node:fs";

export type Clock = () => Date;

export function createClock(testClockFile?: string): Clock {
  if (testClockFile === undefined) return () => new Date();
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
