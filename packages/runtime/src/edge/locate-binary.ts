/**
 * Finds the field of a binary protobuf message that fails to decode, so a malformed message's
 * INVALID_ARGUMENT can name it. protobuf-es says only "premature EOF" or "The encoded data was not
 * valid for encoding utf-8"; this walks the wire format against the descriptor.
 */
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The path (proto names) of the first field of `bytes` that does not decode, if any. */
export function locateBinary(
  desc: DescMessage,
  bytes: Uint8Array,
  prefix = "",
): string | undefined {
  const reader = new BinaryReader(bytes);
  let field: DescField | undefined;
  try {
    while (reader.pos < reader.len) {
      const [number, wireType] = reader.tag();
      field = desc.fields.find((f) => f.number === number);
      if (field === undefined || wireType !== WireType.LengthDelimited) {
        reader.skip(wireType, number);
        continue;
      }
      const data = reader.bytes();
      const path = prefix + field.name;
      if (isString(field)) {
        try {
          fatalUtf8.decode(data);
        } catch {
          return path;
        }
      } else if (
        field.message !== undefined &&
        (field.fieldKind === "message" || field.fieldKind === "list")
      ) {
        const inner = locateBinary(field.message, data, `${path}.`);
        if (inner !== undefined) return inner;
      }
      field = undefined;
    }
  } catch {
    // The tag or length of `field` (or of an unknown field, then undefined) ran past the end.
    return field === undefined ? undefined : prefix + field.name;
  }
  return undefined;
}

function isString(field: DescField): boolean {
  return (
    (field.fieldKind === "scalar" || field.fieldKind === "list") &&
    field.scalar === ScalarType.STRING
  );
}
