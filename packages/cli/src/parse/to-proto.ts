/** Milliseconds and dates as the init shapes of google.protobuf.Duration and Timestamp. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";

/** `ms` as a Duration init. */
export function durationInit(ms: number): { seconds: bigint; nanos: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** `d` as a Timestamp. */
export const timestampInit = timestampFromDate;
