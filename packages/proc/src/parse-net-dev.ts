/** The parser of /proc/net/dev (proc(5)). */
import { toCount } from "./to-count.js";

/** The traffic counters of one network interface since it appeared. */
export interface NetDevCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  txErrors: number;
  rxDrops: number;
  txDrops: number;
}

/**
 * Parses the text of /proc/net/dev into counters by interface name: two header lines, then
 * "name: rx-bytes packets errs drop fifo frame compressed multicast tx-bytes packets errs drop
 * fifo colls carrier compressed". Old kernels print no space after the colon, so the name ends at
 * the colon, not at a space.
 */
export function parseNetDev(text: string): Map<string, NetDevCounters> {
  const nets = new Map<string, NetDevCounters>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (name === "" || f.length < 16) continue;
    const n = (i: number) => toCount(f[i]) ?? 0;
    nets.set(name, {
      rxBytes: n(0),
      rxPackets: n(1),
      rxErrors: n(2),
      rxDrops: n(3),
      txBytes: n(8),
      txPackets: n(9),
      txErrors: n(10),
      txDrops: n(11),
    });
  }
  return nets;
}
