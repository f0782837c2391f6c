/** A process test's xrdp.ini: the distribution's, with the few keys a test sets. */

/** The distribution's xrdp.ini, the base of a test's own. */
export const distIni = "/etc/xrdp/xrdp.ini";

/**
 * `ini` with the keys of `settings` (section name to key to value) set to their values. Throws if
 * one is missing: the test would otherwise run xrdp with the distribution's value unnoticed.
 */
export function withSettings(
  ini: string,
  settings: Record<string, Record<string, string>>,
): string {
  let section = "";
  const done = new Set<string>();
  const lines = ini.split("\n").map((line) => {
    section = /^\[([^\]]+)\]/.exec(line)?.[1] ?? section;
    const key = /^([A-Za-z_]+)=/.exec(line)?.[1];
    const value = key === undefined ? undefined : settings[section]?.[key];
    if (value === undefined) return line;
    done.add(`${section}.${key}`);
    return `${key}=${value}`;
  });
  for (const [name, keys] of Object.entries(settings)) {
    for (const key of Object.keys(keys)) {
      if (!done.has(`${name}.${key}`)) throw new Error(`${distIni} lacks [${name}] ${key}=`);
    }
  }
  return lines.join("\n");
}
