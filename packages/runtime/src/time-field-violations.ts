/**
 * The value rules of google.protobuf.Duration and Timestamp that the binary wire cannot express
 * and protovalidate does not check: Duration nanos in [-999999999, 999999999] with the sign of
 * seconds, seconds within ±10000 years; Timestamp nanos in [0, 999999999], seconds from
 * 0001-01-01 to 9999-12-31 UTC. protobuf-es's JSON reader enforces these; its binary reader and
 * protovalidate do not, so `{seconds: 120, nanos: 999999999999}` would pass a `lte: 120s` rule
 * and stretch it. Written here because no library checks them on a decoded message.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import type { FieldViolation } from "./errors.js";

const durationType = "google.protobuf.Duration";
const timestampType = "google.protobuf.Timestamp";
const maxDurationSeconds = 315_576_000_000n;
const minTimestampSeconds = -62_135_596_800n;
const maxTimestampSeconds = 253_402_300_799n;
const maxNanos = 999_999_999;

/** Whether a message type can hold a Duration or Timestamp at any depth, per type. */
const holdsTime = new WeakMap<DescMessage, boolean>();

function mayHoldTime(desc: DescMessage, visiting = new Set<DescMessage>()): boolean {
  const known = holdsTime.get(desc);
  if (known !== undefined) return known;
  if (desc.typeName === durationType || desc.typeName === timestampType) return true;
  if (visiting.has(desc)) return false;
  visiting.add(desc);
  let found = false;
  for (const f of desc.fields) {
    const inner =
      f.fieldKind === "message"
        ? f.message
        : (f.fieldKind === "list" && f.listKind === "message") ||
            (f.fieldKind === "map" && f.mapKind === "message")
          ? f.message
          : undefined;
    if (inner !== undefined && mayHoldTime(inner, visiting)) {
      found = true;
      break;
    }
  }
  visiting.delete(desc);
  // A type inside a cycle that was cut may be undercounted; cache only the outermost answer.
  if (visiting.size === 0 || found) holdsTime.set(desc, found);
  return found;
}

/**
 * The violations of every Duration and Timestamp set in `message`, at any depth (lists and maps
 * too), each naming the field by its path, e.g. `wait_timeout` or `items[2].create_time`.
 */
export function timeFieldViolations<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
): FieldViolation[] {
  if (!mayHoldTime(schema)) return [];
  const out: FieldViolation[] = [];
  walk(reflect(schema, message), "", out);
  return out;
}

function walk(m: ReflectMessage, path: string, out: FieldViolation[]): void {
  const own = checkTime(m);
  if (own !== undefined) {
    out.push({ field: path === "" ? "(message)" : path, description: own });
    return;
  }
  for (const f of m.fields) {
    if (!m.isSet(f)) continue;
    const name = path === "" ? f.name : `${path}.${f.name}`;
    if (f.fieldKind === "message") {
      if (mayHoldTime(f.message)) walk(m.get(f), name, out);
    } else if (f.fieldKind === "list" && f.listKind === "message") {
      if (!mayHoldTime(f.message)) continue;
      const list = m.get(f);
      for (let i = 0; i < list.size; i++) {
        walk(list.get(i) as ReflectMessage, `${name}[${i}]`, out);
      }
    } else if (f.fieldKind === "map" && f.mapKind === "message") {
      if (!mayHoldTime(f.message)) continue;
      for (const [key, value] of m.get(f)) {
        walk(value as ReflectMessage, `${name}[${JSON.stringify(String(key))}]`, out);
      }
    }
  }
}

/** Why a Duration or Timestamp is out of range, or undefined (also for any other type). */
function checkTime(m: ReflectMessage): string | undefined {
  const typeName = m.desc.typeName;
  if (typeName !== durationType && typeName !== timestampType) return undefined;
  const { seconds, nanos } = m.message as unknown as { seconds: bigint; nanos: number };
  if (typeName === durationType) {
    if (seconds > maxDurationSeconds || seconds < -maxDurationSeconds) {
      return "must be a duration of at most 315576000000 seconds either way";
    }
    if (nanos > maxNanos || nanos < -maxNanos) {
      return "nanos must be from -999999999 to 999999999";
    }
    if ((seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0)) {
      return "nanos must have the sign of seconds";
    }
    return undefined;
  }
  if (seconds < minTimestampSeconds || seconds > maxTimestampSeconds) {
    return "must be a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z";
  }
  if (nanos < 0 || nanos > maxNanos) {
    return "nanos must be from 0 to 999999999";
  }
  return undefined;
}
