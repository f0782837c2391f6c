/** The parser of /proc/stat (proc(5)): the CPU time lines and the boot time. */
import { toCount } from "./to-count.js";

/**
 * Time a CPU (or all of them) spent in each state since boot, in clock ticks (USER_HZ), from
 * "cpuN user nice system idle iowait irq softirq steal guest guest_nice". guest and guest_nice
 * are already inside user and nice, so they are not kept. Fields an old kernel does not print
 * are 0.
 */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  /** Idle while waiting for I/O; proc(5) warns it may go backwards. */
  iowait: number;
  irq: number;
  softirq: number;
  /** Time a hypervisor ran something else while this guest wanted the CPU. */
  steal: number;
}

/** What the services read from /proc/stat. */
export interface SystemStat {
  /** The aggregate "cpu" line: all cores together; undefined when missing. */
  cpu: CpuTimes | undefined;
  /** The "cpuN" lines, by core number N. */
  cores: Map<number, CpuTimes>;
  /** `btime`: when the host booted, in seconds since the epoch; undefined when missing. */
  bootTimeSeconds: number | undefined;
}

/** Parses the text of /proc/stat. */
export function parseSystemStat(text: string): SystemStat {
  let cpu: CpuTimes | undefined;
  let bootTimeSeconds: number | undefined;
  const cores = new Map<number, CpuTimes>();
  for (const line of text.split("\n")) {
    if (line.startsWith("btime ")) {
      bootTimeSeconds = toCount(line.slice(6)) ?? bootTimeSeconds;
      continue;
    }
    if (!line.startsWith("cpu")) continue;
    const fields = line.split(/\s+/);
    const label = fields[0] ?? "";
    const times = parseCpuTimes(fields);
    if (times === undefined) continue;
    if (label === "cpu") cpu = times;
    else {
      const core = toCount(label.slice(3));
      if (core !== undefined) cores.set(core, times);
    }
  }
  return { cpu, cores, bootTimeSeconds };
}

function parseCpuTimes(fields: string[]): CpuTimes | undefined {
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields
    .slice(1, 9)
    .map((f) => toCount(f) ?? 0);
  if (user === undefined || nice === undefined || system === undefined || idle === undefined) {
    return undefined;
  }
  return { user, nice, system, idle, iowait, irq, softirq, steal };
}
