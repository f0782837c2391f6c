/** Whole-number flag values. */
import { InvalidArgumentError } from "commander";

/** A commander parser of an integer between `min` and `max` inclusive. */
export function intIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`"${text}" is not a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** A commander parser of a finite number. */
export function finiteNumber(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`"${text}" is not a finite number`);
  }
  return n;
}
