/** Enum values by their short name, as the tables show them. */
import type { DescEnum } from "@bufbuild/protobuf";

/** The short name of `value` in `desc` (READY for SESSION_STATE_READY); "" for the zero value. */
export function enumName(desc: DescEnum, value: number): string {
  if (value === 0) return "";
  return desc.value[value]?.localName ?? String(value);
}
