/**
 * A whitespace-separated field as a non-negative integer; undefined when it is not one. Counters
 * past 2^53 (9 PB of traffic) lose their last digits to the float, which no rate notices.
 */
export function toCount(field: string | undefined): number | undefined {
  if (field === undefined || !/^\d+$/.test(field)) return undefined;
  return Number(field);
}
