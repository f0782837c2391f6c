/** `key=value` flag values (repeatable) gathered into a labels map. */
import { InvalidArgumentError } from "commander";

/** Commander's collector for a repeatable `--label key=value`. */
export function collectLabel(
  text: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`"${text}" is not key=value`);
  return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
}
