/**
 * One owner per X display on a host. Each xrdp-integration that runs desktops (XRDP_SESMAN=managed)
 * holds its display range as an abstract UNIX socket named `@lucid-xrdp-displays:<first>-<last>:
 * <pid>`, which the kernel releases when the process dies, however it dies. Before and after taking
 * its own, a service reads the others from /proc/net/unix; an overlapping range means two services
 * would start, clean and end each other's desktops, so the later one refuses to start. Services
 * with disjoint ranges share the host safely: each instance has its own sesman (own loopback
 * address or socket directory), so no login can reach another service's sesman.
 *
 * Abstract sockets belong to a network namespace, as the loopback addresses of the instances'
 * sesmans do: two containers with their own network namespaces (and their own /tmp) never meet.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

const prefix = "lucid-xrdp-displays:";

/** Thrown when another service on this host holds displays of the range asked for. */
export class DisplayRangeTakenError extends Error {
  override readonly name = "DisplayRangeTakenError";
  constructor(
    readonly range: { first: number; last: number },
    readonly holder: { first: number; last: number; pid: number },
  ) {
    super(
      `X displays ${range.first}-${range.last} overlap ${holder.first}-${holder.last}, which another xrdp-integration (pid ${holder.pid}) on this host runs desktops on: give each service a range of its own (XRDP_DISPLAY_RANGE), or set XRDP_SESMAN=off`,
    );
  }
}

/** The display ranges other processes hold, from /proc/net/unix. */
export function heldDisplayRanges(
  procNetUnix = "/proc/net/unix",
): { first: number; last: number; pid: number }[] {
  let text: string;
  try {
    text = readFileSync(procNetUnix, "utf8");
  } catch {
    return [];
  }
  const out: { first: number; last: number; pid: number }[] = [];
  for (const line of text.split("\n")) {
    const i = line.indexOf(`@${prefix}`);
    if (i < 0) continue;
    // Node binds abstract names padded with NULs to the whole sun_path, which /proc shows as "@".
    const name = line
      .slice(i + 1 + prefix.length)
      .trim()
      .replace(/@+$/, "");
    const m = /^(\d{1,3})-(\d{1,3}):(\d{1,10})$/.exec(name);
    if (m) out.push({ first: Number(m[1]), last: Number(m[2]), pid: Number(m[3]) });
  }
  return out;
}

const overlaps = (a: { first: number; last: number }, b: { first: number; last: number }) =>
  a.first <= b.last && b.first <= a.last;

export class DisplayRangeLock {
  private constructor(private readonly server: Server) {}

  /**
   * Takes `range` for this process, or throws DisplayRangeTakenError naming the holder. Two
   * services taking overlapping ranges at the same moment: the one with the higher pid yields.
   */
  static async acquire(
    range: { first: number; last: number },
    pid = process.pid,
  ): Promise<DisplayRangeLock> {
    const before = heldDisplayRanges().find((h) => h.pid !== pid && overlaps(h, range));
    if (before) throw new DisplayRangeTakenError(range, before);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ path: `\0${prefix}${range.first}-${range.last}:${pid}` }, () => resolve());
    });
    server.unref();
    const race = heldDisplayRanges().find(
      (h) => h.pid !== pid && overlaps(h, range) && h.pid < pid,
    );
    if (race) {
      await new Promise<void>((r) => server.close(() => r()));
      throw new DisplayRangeTakenError(range, race);
    }
    return new DisplayRangeLock(server);
  }

  release(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
