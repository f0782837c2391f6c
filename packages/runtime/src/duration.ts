/** A google.protobuf.Duration in whole milliseconds, or undefined when absent. */
export function durationMs(d: { seconds: bigint; nanos: number } | undefined): number | undefined {
  return d === undefined ? undefined : Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}
