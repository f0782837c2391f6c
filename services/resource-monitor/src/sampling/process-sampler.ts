/**
 * Samples chosen processes from procfs: CPU, memory, threads, open files and storage I/O, and
 * finds the process tree below a pid (an xrdp instance and its per-connection children).
 *
 * A process is known by its pid AND its start time (field 22 of /proc/<pid>/stat), so a pid the
 * kernel recycled for a new process starts over instead of inheriting the old one's CPU counter.
 *
 * Cost, per sampled pid: one read of /proc/<pid>/stat (about 300 bytes; it holds CPU times,
 * threads, virtual size and RSS, so /proc/<pid>/status, four times larger, is not read), one
 * listing of /proc/<pid>/fd (grows with the process's open files) and one read of /proc/<pid>/io:
 * about 30 us per pid on the shared 2-core CI VM (7 us each for the three, the rest parsing), so
 * 1,000 pids every 5 s take about 0.6% of one core. Per `tree()`/`trees()` call: one listing of
 * /proc and one stat read per process on the host (about 1.3 ms for 75 processes), however many
 * roots are asked for. No subprocesses. State: one small entry per pid of the last `sample()`
 * call only.
 */
import {
  clockTicksPerSecond,
  listPids,
  parseProcIo,
  parseProcStat,
  parseSystemStat,
  readPageSize,
  readProcDir,
  readProcText,
} from "@lucid-rdp/proc";

/** Options of {@link ProcessSampler}. */
export interface ProcessSamplerOptions {
  /**
   * Where procfs is mounted; tests point it at a directory of fixture files.
   * @default "/proc"
   */
  procRoot?: string;
  /**
   * The clock, in milliseconds since the epoch; it stamps samples and times CPU use.
   * @default Date.now
   */
  now?: () => number;
}

/** One sample of one process. */
export interface ProcessSample {
  pid: number;
  /** The parent's pid; 0 for the kernel's own roots. */
  ppid: number;
  /** The command name (comm): at most 15 bytes, never the arguments. */
  name: string;
  /** One letter, as in ps: R running, S sleeping, D disk wait, Z zombie, T stopped, I idle ... */
  state: string;
  /** Start time in clock ticks since boot; with the pid, the process's identity. */
  startTicks: number;
  /** Start time in milliseconds since the epoch (boot time plus `startTicks`), to about 10 ms. */
  startTime: number;
  /** When the sample was taken, in milliseconds since the epoch. */
  time: number;
  /**
   * CPU used since this sampler's previous sample of the same process, in percent of one core
   * (200 is two cores busy). 0 at the first sample of a process.
   */
  cpuPercent: number;
  /** User plus system CPU time since the process started, in seconds. */
  cpuSecondsTotal: number;
  /** Resident memory, in bytes. */
  rssBytes: number;
  /** Virtual memory size, in bytes. */
  virtualBytes: number;
  /** The number of threads. */
  threads: number;
  /** Open file descriptors; absent when /proc/<pid>/fd may not be read (another user's process). */
  openFds?: number;
  /** Bytes the process made storage read; absent when /proc/<pid>/io may not be read. */
  ioReadBytesTotal?: number;
  /** Bytes the process caused to be written to storage; absent like {@link ioReadBytesTotal}. */
  ioWriteBytesTotal?: number;
}

/** What a later sample of the same process needs. */
interface PidState {
  startTicks: number;
  cpuTicks: number;
  time: number;
}

/** Samples processes from procfs; see the module comment for what and at which cost. */
export class ProcessSampler {
  private readonly procRoot: string;
  private readonly now: () => number;
  private state = new Map<number, PidState>();
  private bootTimeMs: number | undefined;
  private pageBytes: number | undefined;

  constructor(opts: ProcessSamplerOptions = {}) {
    this.procRoot = opts.procRoot ?? "/proc";
    this.now = opts.now ?? Date.now;
  }

  /**
   * Samples each pid that exists; a pid that does not (or is not a positive integer) is left out
   * of the result. Forgets every pid not in `pids`, so the sampler's memory follows the caller's
   * list: one sampler belongs to one periodic loop, and an ad-hoc query made with it would reset
   * the CPU baseline of the processes it does not name.
   */
  sample(pids: readonly number[]): Map<number, ProcessSample> {
    const time = this.now();
    const out = new Map<number, ProcessSample>();
    const next = new Map<number, PidState>();
    for (const pid of pids) {
      if (!Number.isSafeInteger(pid) || pid <= 0 || out.has(pid)) continue;
      const text = readProcText(`${this.procRoot}/${pid}/stat`);
      const stat = text === undefined ? undefined : parseProcStat(text);
      if (stat === undefined) continue;
      const cpuTicks = stat.userTicks + stat.systemTicks;

      const prev = this.state.get(pid);
      let cpuPercent = 0;
      if (prev !== undefined && prev.startTicks === stat.startTicks && time > prev.time) {
        const seconds = Math.max(0, cpuTicks - prev.cpuTicks) / clockTicksPerSecond;
        cpuPercent = (seconds * 100_000) / (time - prev.time);
      }
      next.set(pid, { startTicks: stat.startTicks, cpuTicks, time });

      const sample: ProcessSample = {
        pid,
        ppid: stat.ppid,
        name: stat.comm,
        state: stat.state,
        startTicks: stat.startTicks,
        startTime: this.bootTime() + (stat.startTicks * 1000) / clockTicksPerSecond,
        time,
        cpuPercent,
        cpuSecondsTotal: cpuTicks / clockTicksPerSecond,
        rssBytes: stat.rssPages * this.pageSize(),
        virtualBytes: stat.virtualBytes,
        threads: stat.threads,
      };
      const fds = readProcDir(`${this.procRoot}/${pid}/fd`);
      if (fds !== undefined) sample.openFds = fds.length;
      const io = readProcText(`${this.procRoot}/${pid}/io`);
      if (io !== undefined) {
        const { readBytes, writeBytes } = parseProcIo(io);
        if (readBytes !== undefined) sample.ioReadBytesTotal = readBytes;
        if (writeBytes !== undefined) sample.ioWriteBytesTotal = writeBytes;
      }
      out.set(pid, sample);
    }
    this.state = next;
    return out;
  }

  /**
   * `rootPid` and every descendant, parents before their children; empty when `rootPid` does not
   * exist. A process that re-parented itself away (a daemon's double fork) is not included.
   */
  tree(rootPid: number): number[] {
    return this.trees([rootPid]).get(rootPid) ?? [];
  }

  /** {@link tree} for several roots from ONE scan of /proc; every root is a key of the result. */
  trees(rootPids: readonly number[]): Map<number, number[]> {
    const exists = new Set<number>();
    const children = new Map<number, number[]>();
    for (const pid of listPids(this.procRoot)) {
      const text = readProcText(`${this.procRoot}/${pid}/stat`);
      const ppid = text === undefined ? undefined : parseProcStat(text)?.ppid;
      if (ppid === undefined) continue; // exited during the scan
      exists.add(pid);
      const siblings = children.get(ppid);
      if (siblings === undefined) children.set(ppid, [pid]);
      else siblings.push(pid);
    }
    const out = new Map<number, number[]>();
    for (const root of rootPids) {
      if (!exists.has(root)) {
        out.set(root, []);
        continue;
      }
      const seen = new Set([root]);
      const order = [root];
      // order doubles as the breadth-first queue: i walks it while children are appended.
      for (let i = 0; i < order.length; i++) {
        for (const child of children.get(order[i]!) ?? []) {
          if (seen.has(child)) continue; // a pid recycled mid-scan could close a loop
          seen.add(child);
          order.push(child);
        }
      }
      out.set(root, order);
    }
    return out;
  }

  /** Boot time (`btime` of /proc/stat) in milliseconds since the epoch; read once. */
  private bootTime(): number {
    if (this.bootTimeMs === undefined) {
      const btime = parseSystemStat(readProcText(`${this.procRoot}/stat`) ?? "").bootTimeSeconds;
      this.bootTimeMs = btime === undefined ? 0 : btime * 1000;
    }
    return this.bootTimeMs;
  }

  /** The page size, the unit of RSS in /proc/<pid>/stat; read once. */
  private pageSize(): number {
    this.pageBytes ??= readPageSize(this.procRoot);
    return this.pageBytes;
  }
}
