/** The parser of /proc/<pid>/cmdline (proc(5)). */

/**
 * Parses the text of /proc/<pid>/cmdline as argv: arguments separated and ended by NUL. An empty
 * file (kernel threads, zombies) is an empty array.
 */
export function parseCmdline(text: string): string[] {
  if (text === "") return [];
  const args = text.split("\0");
  if (args.at(-1) === "") args.pop(); // the terminating NUL
  return args;
}
