/**
 * Enum flag values by their short name, case-insensitive, `-` for `_`: `--state ready`,
 * `--metric host-cpu-usage-percent`, or the full proto name (`SESSION_STATE_READY`).
 */
import type { DescEnum } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "commander";

/** The values of `desc` an operator may name (all but the zero value), by short name. */
export function enumChoices(desc: DescEnum): string[] {
  return desc.values.filter((v) => v.number !== 0).map((v) => v.localName.toLowerCase());
}

/**
 * The number of the value of `desc` that `text` names, with `aliases` (e.g. `>` for GREATER_THAN)
 * tried first; throws InvalidArgumentError listing the choices.
 */
export function parseEnum(
  desc: DescEnum,
  text: string,
  aliases: Readonly<Record<string, string>> = {},
): number {
  const key = text.trim().toUpperCase().replaceAll("-", "_");
  const alias = aliases[text.trim().toLowerCase()];
  const want = alias === undefined ? key : alias.toUpperCase();
  const value = desc.values.find(
    (v) => v.number !== 0 && (v.localName.toUpperCase() === want || v.name === want),
  );
  if (value === undefined) {
    const choices = [...enumChoices(desc), ...Object.keys(aliases)].join(", ");
    throw new InvalidArgumentError(`"${text}" is not one of: ${choices}`);
  }
  return value.number;
}
