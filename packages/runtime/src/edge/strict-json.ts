/**
 * Strict proto3 JSON decoding of request messages. connect decodes request JSON leniently
 * (unknown fields and enum names ignored, invalid UTF-8 replaced) and its errors do not say which
 * field failed; here a request is decoded as the proto3 JSON spec says a server should, and a
 * failure names the field path (proto names, e.g. `settings.security_layer`) so the client gets a
 * BadRequest field violation.
 */
import { type DescField, type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { invalidArgument } from "../errors.js";

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes a request body strictly; returns the JSON text, or throws INVALID_ARGUMENT. */
export function decodeJsonStrict(desc: DescMessage, bytes: Uint8Array): string {
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch (e) {
    throw new ConnectError(
      "the request body is not valid UTF-8",
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new ConnectError(
      `the request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
  checkJsonStrict(desc, json);
  return text;
}

/** Throws INVALID_ARGUMENT naming the failing field when `json` is not a valid `desc`. */
export function checkJsonStrict(desc: DescMessage, json: JsonValue): void {
  try {
    fromJson(desc, json, { ignoreUnknownFields: false });
    return;
  } catch (e) {
    const found = locate(desc, json, "");
    if (found !== undefined) throw invalidArgument([found], e);
    throw new ConnectError(
      `the request is not a valid ${desc.typeName}: ${e instanceof Error ? e.message : String(e)}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
}

interface Violation {
  readonly field: string;
  readonly description: string;
}

/**
 * Finds the first field of `json` that does not decode as `desc`, by decoding each key alone and
 * descending into the one that fails. protobuf-es reports the failing field only one level deep
 * and sometimes not at all (a Duration with too many fraction digits fails with a RangeError).
 */
function locate(desc: DescMessage, json: JsonValue, prefix: string): Violation | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (field === undefined) {
      return { field: prefix + key, description: "unknown field" };
    }
    try {
      fromJson(desc, { [key]: value } as JsonValue, { ignoreUnknownFields: false });
    } catch (e) {
      return locateInField(field, value, prefix + field.name) ?? describe(field, value, e, prefix);
    }
  }
  return undefined;
}

function locateInField(field: DescField, value: JsonValue, path: string): Violation | undefined {
  const message = field.message;
  if (message === undefined || isWellKnown(message)) return undefined;
  if (field.fieldKind === "message") return locate(message, value, `${path}.`);
  if (field.fieldKind === "list" && Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = locate(message, item, `${path}[${i}].`);
      if (found !== undefined) return found;
    }
  }
  if (field.fieldKind === "map" && value !== null && typeof value === "object") {
    for (const [k, item] of Object.entries(value)) {
      const found = locate(message, item as JsonValue, `${path}["${k}"].`);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function describe(field: DescField, value: JsonValue, e: unknown, prefix: string): Violation {
  const path = prefix + field.name;
  const shown = JSON.stringify(value)?.slice(0, 64);
  if (field.enum !== undefined) {
    return { field: path, description: `not a value of ${field.enum.typeName}: ${shown}` };
  }
  if (field.message !== undefined) {
    return { field: path, description: `not a valid ${field.message.typeName}: ${shown}` };
  }
  const why = e instanceof Error ? e.message.replace(/^cannot decode [^:]*: /, "") : String(e);
  return { field: path, description: why };
}

function isWellKnown(desc: DescMessage): boolean {
  return desc.typeName.startsWith("google.protobuf.");
}
