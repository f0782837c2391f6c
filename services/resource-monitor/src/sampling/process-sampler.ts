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
import { endianness } from "node:os";
import {
  clockTicksPerSecond,
  listPids,
  readProcBytes,
  readProcDir,
  readProcText,
} from "./proc-read.js";

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

/** The fields of /proc/<pid>/stat the sampler uses (proc(5)). */
interface PidStat {
  ppid: number;
  comm: string;
  state: string;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  threads: number;
  startTicks: number;
  virtualBytes: number;
  rssPages: number;
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
      const stat = text === undefined ? undefined : parsePidStat(text);
      if (stat === undefined) continue;

      const prev = this.state.get(pid);
      let cpuPercent = 0;
      if (prev !== undefined && prev.startTicks === stat.startTicks && time > prev.time) {
        const seconds = Math.max(0, stat.cpuTicks - prev.cpuTicks) / clockTicksPerSecond;
        cpuPercent = (seconds * 100_000) / (time - prev.time);
      }
      next.set(pid, { startTicks: stat.startTicks, cpuTicks: stat.cpuTicks, time });

      const sample: ProcessSample = {
        pid,
        ppid: stat.ppid,
        name: stat.comm,
        state: stat.state,
        startTicks: stat.startTicks,
        startTime: this.bootTime() + (stat.startTicks * 1000) / clockTicksPerSecond,
        time,
        cpuPercent,
        cpuSecondsTotal: stat.cpuTicks / clockTicksPerSecond,
        rssBytes: stat.rssPages * this.pageSize(),
        virtualBytes: stat.virtualBytes,
        threads: stat.threads,
      };
      const fds = readProcDir(`${this.procRoot}/${pid}/fd`);
      if (fds !== undefined) sample.openFds = fds.length;
      const io = readProcText(`${this.procRoot}/${pid}/io`);
      if (io !== undefined) {
        const read = /^read_bytes: (\d+)$/m.exec(io)?.[1];
        const written = /^write_bytes: (\d+)$/m.exec(io)?.[1];
        if (read !== undefined) sample.ioReadBytesTotal = Number(read);
        if (written !== undefined) sample.ioWriteBytesTotal = Number(written);
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
      const ppid = text === undefined ? undefined : parsePidStat(text)?.ppid;
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
      const btime = /^btime (\d+)$/m.exec(readProcText(`${this.procRoot}/stat`) ?? "")?.[1];
      this.bootTimeMs = btime === undefined ? 0 : Number(btime) * 1000;
    }
    return this.bootTimeMs;
  }

  /** The page size, the unit of RSS in /proc/<pid>/stat; read once. */
  private pageSize(): number {
    this.pageBytes ??= readPageSize(this.procRoot);
    return this.pageBytes;
  }
}

/**
 * Parses /proc/<pid>/stat: "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
 * majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss
 * ...". comm may hold spaces and ')', so it ends at the LAST ')'.
 */
function parsePidStat(text: string): PidStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  // rest[i] is field i + 3 of proc(5), which counts from 1.
  const rest = text.slice(close + 2).split(" ");
  const n = (field: number) => {
    const value = rest[field - 3];
    return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
  };
  const state = rest[0];
  const ppid = n(4);
  const utime = n(14);
  const stime = n(15);
  const threads = n(20);
  const startTicks = n(22);
  const virtualBytes = n(23);
  const rssPages = n(24);
  if (
    state === undefined ||
    ppid === undefined ||
    utime === undefined ||
    stime === undefined ||
    threads === undefined ||
    startTicks === undefined ||
    virtualBytes === undefined ||
    rssPages === undefined
  ) {
    return undefined;
  }
  return {
    ppid,
    comm: text.slice(open + 1, close),
    state,
    cpuTicks: utime + stime,
    threads,
    startTicks,
    virtualBytes,
    rssPages,
  };
}

/** AT_PAGESZ, the auxiliary vector entry that holds the page size (getauxval(3)). */
const atPageSize = 6n;
/** Architectures Node runs on whose `unsigned long`, the auxv word, is 32 bits. */
const arch32 = new Set(["arm", "ia32", "mips", "mipsel", "ppc"]);

/**
 * The kernel's page size, from this process's auxiliary vector (/proc/self/auxv: pairs of
 * unsigned longs, type then value, ending with type 0). 4096, the size on x86-64 and most arm64
 * kernels, when it cannot be read. It is learnt without `getconf PAGESIZE`, a subprocess.
 */
function readPageSize(procRoot: string): number {
  const auxv = readProcBytes(`${procRoot}/self/auxv`);
  if (auxv === undefined) return 4096;
  const word = arch32.has(process.arch) ? 4 : 8;
  const le = endianness() === "LE";
  const at = (offset: number): bigint => {
    if (word === 8) return le ? auxv.readBigUInt64LE(offset) : auxv.readBigUInt64BE(offset);
    return BigInt(le ? auxv.readUInt32LE(offset) : auxv.readUInt32BE(offset));
  };
  for (let offset = 0; offset + 2 * word <= auxv.length; offset += 2 * word) {
    const type = at(offset);
    if (type === 0n) break;
    if (type === atPageSize) return Number(at(offset + word));
  }
  return 4096;
}
