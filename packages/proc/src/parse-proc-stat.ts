/**
 * The parser of /proc/<pid>/stat (proc(5)): "pid (comm) state ppid pgrp session tty tpgid flags
 * minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue
 * starttime vsize rss ...".
 */
import { toCount } from "./to-count.js";

/** The fields of /proc/<pid>/stat the services use. Times are in clock ticks (USER_HZ). */
export interface ProcStat {
  pid: number;
  /** Executable name, at most 15 bytes; may contain spaces and parentheses. */
  comm: string;
  /**
   * One letter: R running, S sleeping, D disk sleep, Z zombie, T stopped, t tracing stop,
   * X dead, I idle. A zombie has exited but is not reaped yet; its pid is still taken.
   */
  state: string;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** CPU time in user mode (utime), in clock ticks. */
  userTicks: number;
  /** CPU time in kernel mode (stime), in clock ticks. */
  systemTicks: number;
  /** The number of threads. */
  threads: number;
  /**
   * Start time in clock ticks since boot. With the pid, the process's identity: a pid the kernel
   * has recycled for another process has another start time.
   */
  startTicks: number;
  /** Virtual memory size, in bytes. */
  virtualBytes: number;
  /** Resident set size, in pages. */
  rssPages: number;
}

/** Parses the text of a /proc/<pid>/stat file; undefined when it is not one. */
export function parseProcStat(text: string): ProcStat | undefined {
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and ')', so it ends at the LAST ')'.
  const open = text.indexOf(" (");
  const close = text.lastIndexOf(")");
  if (open <= 0 || close < open) return undefined;
  // rest[i] is field i + 3 of proc(5), which counts from 1.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(" ");
  const field = (n: number) => toCount(rest[n - 3]);
  const pid = toCount(text.slice(0, open));
  const state = rest[0];
  const ppid = field(4);
  const pgrp = field(5);
  const userTicks = field(14);
  const systemTicks = field(15);
  const threads = field(20);
  const startTicks = field(22);
  const virtualBytes = field(23);
  const rssPages = field(24);
  if (
    pid === undefined ||
    state === undefined ||
    state.length !== 1 ||
    ppid === undefined ||
    pgrp === undefined ||
    userTicks === undefined ||
    systemTicks === undefined ||
    threads === undefined ||
    startTicks === undefined ||
    virtualBytes === undefined ||
    rssPages === undefined
  ) {
    return undefined;
  }
  return {
    pid,
    comm: text.slice(open + 2, close),
    state,
    ppid,
    pgrp,
    userTicks,
    systemTicks,
    threads,
    startTicks,
    virtualBytes,
    rssPages,
  };
}
