import { describe, expect, it } from "vitest";
import { parseDiskstats } from "./parse-diskstats.js";

// /proc/diskstats of a VM under Linux 6.18 (20 fields), and a line of an old kernel (14 fields).
const captured = `   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 1415245 122917 63783378 1398361 4868504 1116837 117084784 1019374 0 657088 2713164 717974 2508 69507864 81516 1405452 213912
 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   8       0 sda 10 0 20 0 10 0 40 0 0 5 0
   8       1 sda1 short
`;

describe("parseDiskstats()", () => {
  it("reads every device with enough fields, sectors as 512-byte units", () => {
    const disks = parseDiskstats(captured);
    expect([...disks.keys()]).toEqual(["loop0", "vda", "zram0", "sda"]);
    expect(disks.get("vda")).toEqual({
      reads: 1415245,
      readBytes: 63783378 * 512,
      writes: 4868504,
      writeBytes: 117084784 * 512,
      ioMs: 657088,
    });
    expect(disks.get("sda")).toEqual({
      reads: 10,
      readBytes: 20 * 512,
      writes: 10,
      writeBytes: 40 * 512,
      ioMs: 5,
    });
  });
});
