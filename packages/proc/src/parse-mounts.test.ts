import { describe, expect, it } from "vitest";
import { parseMounts } from "./parse-mounts.js";

describe("parseMounts()", () => {
  it("reads device, mount point and type in order, decoding octal escapes", () => {
    const captured = `proc /proc proc rw,relatime 0 0
/dev/vda / ext4 rw,relatime,discard 0 0
/dev/vdb /mnt/my\\040data xfs rw 0 0
`;
    expect(parseMounts(captured)).toEqual([
      { device: "proc", mountPoint: "/proc", fsType: "proc" },
      { device: "/dev/vda", mountPoint: "/", fsType: "ext4" },
      { device: "/dev/vdb", mountPoint: "/mnt/my data", fsType: "xfs" },
    ]);
  });
});
