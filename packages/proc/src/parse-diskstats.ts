/**
 * The parser of /proc/diskstats: "major minor name reads merged sectors ms writes merged sectors
 * ms in-flight io-ms ...", per the kernel's Documentation/admin-guide/iostats.rst.
 */
import { toCount } from "./to-count.js";

/** The I/O counters of one block device since boot. */
export interface DiskCounters {
  /** Read requests completed. */
  reads: number;
  readBytes: number;
  /** Write requests completed. */
  writes: number;
  writeBytes: number;
  /** Milliseconds with I/O in flight. */
  ioMs: number;
}

/** diskstats counts sectors of 512 bytes whatever the device's real sector size. */
const diskSectorBytes = 512;

/**
 * Parses the text of /proc/diskstats into counters by device name (`sda`, `sda1`, `loop0` ...:
 * every device the kernel lists, partitions included). Lines with fewer than 14 fields are
 * skipped.
 */
export function parseDiskstats(text: string): Map<string, DiskCounters> {
  const disks = new Map<string, DiskCounters>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    const name = f[2];
    if (name === undefined || f.length < 14) continue;
    const n = (i: number) => toCount(f[i]) ?? 0;
    disks.set(name, {
      reads: n(3),
      readBytes: n(5) * diskSectorBytes,
      writes: n(7),
      writeBytes: n(9) * diskSectorBytes,
      ioMs: n(12),
    });
  }
  return disks;
}
