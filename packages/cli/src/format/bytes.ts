/** Byte counts in binary units. */

/** `n` bytes as "512 B", "1.5 KiB", "12 MiB", up to TiB. */
export function bytes(n: number | bigint): string {
  let v = Number(n);
  for (const unit of ["B", "KiB", "MiB", "GiB"]) {
    if (v < 1024) return `${v.toFixed(v < 10 && unit !== "B" ? 1 : 0)} ${unit}`;
    v /= 1024;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} TiB`;
}
