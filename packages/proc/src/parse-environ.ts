/** The parser of /proc/<pid>/environ (proc(5)). */

/**
 * Parses the text of /proc/<pid>/environ: `NAME=value` entries separated and ended by NUL. When a
 * name appears twice the first wins, as getenv(3) reads it; entries without `=` are skipped.
 */
export function parseEnviron(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of text.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!env.has(name)) env.set(name, entry.slice(eq + 1));
  }
  return env;
}
