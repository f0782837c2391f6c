import { describe, expect, it } from "vitest";
import { parseMeminfo } from "./parse-meminfo.js";

// Part of /proc/meminfo of a VM without swap, Linux 6.18.
const captured = `MemTotal:       24683792 kB
MemFree:        21245368 kB
MemAvailable:   23201136 kB
Buffers:           59488 kB
Cached:          1721932 kB
SwapCached:            0 kB
Active(anon):       1400 kB
SwapTotal:             0 kB
SwapFree:              0 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

describe("parseMeminfo()", () => {
  it("reads every key, kB values in bytes and unitless counts as they are", () => {
    const m = parseMeminfo(captured);
    expect(m.get("MemTotal")).toBe(24683792 * 1024);
    expect(m.get("MemAvailable")).toBe(23201136 * 1024);
    expect(m.get("Active(anon)")).toBe(1400 * 1024);
    expect(m.get("SwapTotal")).toBe(0);
    expect(m.get("HugePages_Total")).toBe(0);
    expect(m.get("Hugepagesize")).toBe(2048 * 1024);
    expect(m.size).toBe(11);
  });

  it("skips lines that are not a key and a number", () => {
    expect(parseMeminfo("garbage\n: 5 kB\nMemTotal: lots\n")).toEqual(new Map());
  });
});
