/** `--selector` values as label matchers: `name=value`, `name!=value`, `name=~regex`, `name!~regex`. */
import { MatchOperator } from "@lucid-rdp/gen";
import { InvalidArgumentError } from "commander";

/** A label matcher as the request takes it. */
export interface MatcherInit {
  readonly name: string;
  readonly operator: MatchOperator;
  readonly value: string;
}

const ops: readonly (readonly [string, MatchOperator])[] = [
  ["!~", MatchOperator.NOT_REGEX],
  ["=~", MatchOperator.REGEX],
  ["!=", MatchOperator.NOT_EQUAL],
  ["=", MatchOperator.EQUAL],
];

/** One matcher, Prometheus style; throws InvalidArgumentError when there is no operator. */
export function parseSelector(text: string): MatcherInit {
  const m = /^([a-z][a-z0-9_]*)(!~|=~|!=|=)(.*)$/s.exec(text);
  if (m === null) {
    throw new InvalidArgumentError(
      `"${text}" is not a label matcher: use name=value, name!=value, name=~regex or name!~regex`,
    );
  }
  const operator = ops.find(([op]) => op === m[2])?.[1] as MatchOperator;
  return { name: m[1] as string, operator, value: m[3] as string };
}

/** A matcher back as text: `device=~sd.`. */
export function formatSelector(m: MatcherInit): string {
  return `${m.name}${ops.find(([, op]) => op === m.operator)?.[0] ?? "?"}${m.value}`;
}
