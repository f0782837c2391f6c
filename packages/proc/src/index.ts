// Parsers: pure functions from the text (or bytes) of one /proc file format to plain objects.
export { clockTicksPerSecond } from "./clock-ticks.js";
export { type AuxvLayout, hostAuxvLayout, parseAuxvPageSize } from "./parse-auxv.js";
export { parseCmdline } from "./parse-cmdline.js";
export { type DiskCounters, parseDiskstats } from "./parse-diskstats.js";
export { parseEnviron } from "./parse-environ.js";
export { type LoadAverage, parseLoadavg } from "./parse-loadavg.js";
export { parseMeminfo } from "./parse-meminfo.js";
export { type Mount, parseMounts } from "./parse-mounts.js";
export { type NetDevCounters, parseNetDev } from "./parse-net-dev.js";
export {
  formatIPv6,
  parseProcNetTcp,
  type TcpConnection,
  type TcpState,
} from "./parse-net-tcp.js";
export { type ProcIo, parseProcIo } from "./parse-proc-io.js";
export { type ProcStat, parseProcStat } from "./parse-proc-stat.js";
export { type CpuTimes, parseSystemStat, type SystemStat } from "./parse-system-stat.js";
export { parseUptime } from "./parse-uptime.js";
// Readers: the file system side, synchronous for procfs files, with "gone" as undefined.
export {
  listPids,
  type ProcTextEncoding,
  readProcBytes,
  readProcDir,
  readProcText,
} from "./proc-read.js";
export {
  findProcesses,
  isSameProcess,
  listChildren,
  listDescendants,
  type ProcessInfo,
  processStartTime,
  readBootTimeSeconds,
  readCmdline,
  readEnviron,
  readProcStat,
} from "./process-table.js";
export { readPageSize } from "./read-page-size.js";
export {
  type ProcFileReader,
  readTcpConnections,
  type TcpReadOptions,
} from "./read-tcp-connections.js";
