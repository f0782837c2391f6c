import { describe, expect, it } from "vitest";
import { parseSystemStat } from "./parse-system-stat.js";

// /proc/stat of a 2-core VM under Linux 6.18 (the intr line shortened).
const captured = `cpu  2006714 8136 394583 1428162 15216 0 17494 961 0 0
cpu0 1003694 3773 190009 728482 3474 0 5445 489 0 0
cpu1 1003020 4363 204573 699680 11742 0 12049 472 0 0
intr 47107378 0 0 0 0
ctxt 1234567
btime 1796529087
processes 20517
procs_running 2
procs_blocked 0
`;

describe("parseSystemStat()", () => {
  it("reads the aggregate and per-core CPU times and the boot time", () => {
    const stat = parseSystemStat(captured);
    expect(stat.cpu).toEqual({
      user: 2006714,
      nice: 8136,
      system: 394583,
      idle: 1428162,
      iowait: 15216,
      irq: 0,
      softirq: 17494,
      steal: 961,
    });
    expect([...stat.cores.keys()]).toEqual([0, 1]);
    expect(stat.cores.get(1)).toMatchObject({ user: 1003020, idle: 699680, steal: 472 });
    expect(stat.bootTimeSeconds).toBe(1796529087);
  });

  it("reads 0 for the fields an old kernel does not print, and nothing from no text", () => {
    expect(parseSystemStat("cpu  1 2 3 4\nbtime 1700000000\n").cpu).toEqual({
      user: 1,
      nice: 2,
      system: 3,
      idle: 4,
      iowait: 0,
      irq: 0,
      softirq: 0,
      steal: 0,
    });
    expect(parseSystemStat("")).toEqual({
      cpu: undefined,
      cores: new Map(),
      bootTimeSeconds: undefined,
    });
  });
});
