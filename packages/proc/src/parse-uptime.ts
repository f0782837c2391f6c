/** The parser of /proc/uptime (proc(5)). */

/** Parses "12345.67 23456.78": seconds since boot (then idle seconds of all cores); 0 if none. */
export function parseUptime(text: string): number {
  return Number.parseFloat(text) || 0;
}
