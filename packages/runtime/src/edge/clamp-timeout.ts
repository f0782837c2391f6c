/**
 * Clamps request timeouts to what a Node timer can hold. connect hands the timeout to setTimeout,
 * which fires at once for 2^31 ms or more (about 24.8 days), so such a call would end with
 * DEADLINE_EXCEEDED before it started; a deadline that far away means "no hurry" and is clamped.
 */

/** The longest timeout a Node timer holds (ms). */
export const maxTimerMs = 2 ** 31 - 1;

const grpcUnitsMs: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/** Rewrites grpc-timeout and connect-timeout-ms in place when they exceed what a timer holds. */
export function clampTimeouts(header: Headers): void {
  const grpc = header.get("grpc-timeout");
  const g = grpc === null ? null : /^(\d{1,8})([HMSmun])$/.exec(grpc);
  if (g !== null && Number(g[1]) * (grpcUnitsMs[g[2] as string] as number) > maxTimerMs) {
    header.set("grpc-timeout", `${Math.floor(maxTimerMs / 1000)}S`);
  }
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect) && Number(connect) > maxTimerMs) {
    header.set("connect-timeout-ms", String(maxTimerMs));
  }
}
