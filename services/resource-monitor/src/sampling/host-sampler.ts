/**
 * Samples the whole host from procfs: CPU (total and per core), load, memory and swap, usage of
 * each real filesystem, I/O of each block device and traffic of each network interface.
 *
 * Usage, rates and utilization are computed from the difference to the previous `sample()` of the
 * same sampler, so one sampler belongs to one periodic loop; the first sample reports them as 0.
 * Counters that went backwards (an interface re-created, a core brought back online) count as a
 * reset: that interval reports 0, the next one is right again.
 *
 * Cost of one sample: seven small procfs reads (stat, loadavg, meminfo, uptime, mounts, diskstats,
 * net/dev), a listing of the procfs root for the process count and one statfs(2) per real
 * filesystem: about 0.6 ms in all on the 2-core CI VM. No subprocesses. statfs(2) is synchronous,
 * so network filesystems, where a dead server blocks it for minutes, are left out (see
 * {@link networkFsTypes}).
 */
import { type StatsFs, statfsSync } from "node:fs";
import { listPids, readProcText, toCount } from "./proc-read.js";

/** Options of {@link HostSampler}. */
export interface HostSamplerOptions {
  /**
   * Where procfs is mounted; tests point it at a directory of fixture files.
   * @default "/proc"
   */
  procRoot?: string;
  /**
   * The clock, in milliseconds since the epoch; it stamps samples and times rates.
   * @default Date.now
   */
  now?: () => number;
  /**
   * statfs(2) of a mount point; tests pass a fake, as fixture mounts do not exist.
   * @default fs.statfsSync
   */
  statfs?: (path: string) => FilesystemStats;
}

/** The fields of statfs(2) the sampler uses; `fs.statfsSync` returns them. */
export type FilesystemStats = Pick<
  StatsFs,
  "bsize" | "blocks" | "bfree" | "bavail" | "files" | "ffree"
>;

/** One sample of the whole host. */
export interface HostSample {
  /** When the sample was taken, in milliseconds since the epoch. */
  time: number;
  /** Time since the host booted, in seconds (/proc/uptime). */
  uptimeSeconds: number;
  /** The number of processes (not threads) on the host. */
  processCount: number;
  cpu: CpuSample;
  load: LoadSample;
  memory: MemorySample;
  /** Each real filesystem, ordered by mount point; pseudo and network filesystems left out. */
  filesystems: FilesystemSample[];
  /** Each whole block device, ordered by name; partitions, loop and RAM devices left out. */
  disks: DiskSample[];
  /** Each network interface, ordered by name. */
  networkInterfaces: NetworkInterfaceSample[];
}

/**
 * CPU use of the whole machine since the previous sample, as ratios from 0 to 1 of all cores
 * together (0.5 on a 2-core host: one core busy). All 0 in the first sample.
 */
export interface CpuSample {
  /** Busy: everything but idle and iowait. */
  usageRatio: number;
  /** User mode, including niced processes and guests. */
  userRatio: number;
  /** Kernel mode, including interrupt handling. */
  systemRatio: number;
  /** Idle while waiting for I/O. */
  iowaitRatio: number;
  /** Each online core, ordered by core number. */
  cores: CoreSample[];
}

/** Busy time of one core since the previous sample. */
export interface CoreSample {
  /** The core's number as in /proc/stat, from 0. */
  core: number;
  /** Busy time of this core, from 0 to 1. */
  usageRatio: number;
}

/** The run-queue load averages (/proc/loadavg). */
export interface LoadSample {
  load1: number;
  load5: number;
  load15: number;
}

/** Memory and swap (/proc/meminfo), in bytes. */
export interface MemorySample {
  /** MemTotal: usable RAM. */
  totalBytes: number;
  /** MemAvailable: what new work can get without swapping. */
  availableBytes: number;
  /** Total minus available. */
  usedBytes: number;
  /** Cached: the page cache. */
  cachedBytes: number;
  /** SwapTotal; 0 without swap. */
  swapTotalBytes: number;
  /** SwapFree. */
  swapFreeBytes: number;
  /** Swap total minus swap free. */
  swapUsedBytes: number;
}

/** Space and inodes of one mounted filesystem (statfs(2)). */
export interface FilesystemSample {
  /** Where it is mounted, for example `/`. */
  mountPoint: string;
  /** The mounted device, for example `/dev/sda1`, or `overlay`. */
  device: string;
  /** The filesystem type, for example `ext4`. */
  fsType: string;
  /** Size, in bytes. */
  sizeBytes: number;
  /** In use (size minus free), in bytes. */
  usedBytes: number;
  /** Free, including the blocks reserved for root, in bytes. */
  freeBytes: number;
  /** Free for unprivileged users, in bytes: what "disk full" means to a session. */
  availableBytes: number;
  /** Inodes in all; 0 for filesystems without a fixed inode table (btrfs). */
  inodesTotal: number;
  /** Inodes in use. */
  inodesUsed: number;
  /** Inodes free. */
  inodesFree: number;
}

/** I/O of one block device (/proc/diskstats). Totals count since boot. */
export interface DiskSample {
  /** The kernel's name, for example `sda`, `nvme0n1`, `dm-0`. */
  device: string;
  readBytesTotal: number;
  writeBytesTotal: number;
  /** Read requests completed. */
  readsTotal: number;
  /** Write requests completed. */
  writesTotal: number;
  readBytesPerSecond: number;
  writeBytesPerSecond: number;
  readsPerSecond: number;
  writesPerSecond: number;
  /** Share of the interval the device had I/O in flight, from 0 to 1. */
  utilizationRatio: number;
}

/** Traffic of one network interface (/proc/net/dev). Totals count since the interface appeared. */
export interface NetworkInterfaceSample {
  /** The interface's name, for example `eth0`, `lo`. */
  name: string;
  receiveBytesTotal: number;
  transmitBytesTotal: number;
  receivePacketsTotal: number;
  transmitPacketsTotal: number;
  receiveErrorsTotal: number;
  transmitErrorsTotal: number;
  receiveDropsTotal: number;
  transmitDropsTotal: number;
  receiveBytesPerSecond: number;
  transmitBytesPerSecond: number;
  receivePacketsPerSecond: number;
  transmitPacketsPerSecond: number;
}

/**
 * Filesystem types with no storage of their own (kernel interfaces, memory, containers of other
 * mounts) or that are read-only images always 100% full (squashfs: snaps). tmpfs is memory, and
 * counted there.
 */
const pseudoFsTypes = new Set([
  "autofs",
  "binfmt_misc",
  "bpf",
  "cgroup",
  "cgroup2",
  "configfs",
  "debugfs",
  "devpts",
  "devtmpfs",
  "efivarfs",
  "fusectl",
  "fuse.gvfsd-fuse",
  "fuse.lxcfs",
  "fuse.portal",
  "hugetlbfs",
  "mqueue",
  "nfsd",
  "nsfs",
  "proc",
  "pstore",
  "ramfs",
  "rpc_pipefs",
  "securityfs",
  "selinuxfs",
  "squashfs",
  "sysfs",
  "tmpfs",
  "tracefs",
]);

/** Network filesystems: statfs(2) on one whose server is gone blocks the event loop. */
const networkFsTypes = new Set([
  "9p",
  "afs",
  "ceph",
  "cifs",
  "fuse.sshfs",
  "glusterfs",
  "lustre",
  "ncpfs",
  "nfs",
  "nfs4",
  "smb3",
  "smbfs",
]);

/**
 * Devices /proc/diskstats lists that are not whole disks: partitions (their I/O is already in
 * their disk's), loop devices (their I/O is in the filesystem holding the image) and RAM disks.
 * The same rule as node_exporter's default device exclusion.
 */
const ignoredDisk = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$/;

/** diskstats counts sectors of 512 bytes whatever the device's real sector size. */
const diskSectorBytes = 512;

interface CpuTimes {
  busy: number;
  total: number;
  user: number;
  system: number;
  iowait: number;
}

interface DiskCounters {
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
  /** Milliseconds with I/O in flight. */
  ioMs: number;
}

interface NetCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  txErrors: number;
  rxDrops: number;
  txDrops: number;
}

/** The counters of the previous sample, which rates and usage are computed against. */
interface Previous {
  time: number;
  cpu: CpuTimes | undefined;
  cores: Map<number, CpuTimes>;
  disks: Map<string, DiskCounters>;
  nets: Map<string, NetCounters>;
}

/** Samples the host from procfs; see the module comment for what and at which cost. */
export class HostSampler {
  private readonly procRoot: string;
  private readonly now: () => number;
  private readonly statfs: (path: string) => FilesystemStats;
  private previous: Previous | undefined;

  constructor(opts: HostSamplerOptions = {}) {
    this.procRoot = opts.procRoot ?? "/proc";
    this.now = opts.now ?? Date.now;
    this.statfs = opts.statfs ?? statfsSync;
  }

  /**
   * Takes one sample. Throws when /proc/stat or /proc/meminfo cannot be read (not Linux, or no
   * procfs); the other files are optional and their sections come back empty without them.
   */
  sample(): HostSample {
    const time = this.now();
    const prev = this.previous;
    const elapsedMs = prev === undefined ? 0 : time - prev.time;

    const stat = parseStat(this.required("stat"));
    const disks = parseDiskstats(readProcText(`${this.procRoot}/diskstats`) ?? "");
    const nets = parseNetDev(readProcText(`${this.procRoot}/net/dev`) ?? "");

    const sample: HostSample = {
      time,
      uptimeSeconds: parseUptime(readProcText(`${this.procRoot}/uptime`) ?? ""),
      processCount: listPids(this.procRoot).length,
      cpu: {
        ...cpuRatios(stat.cpu, prev?.cpu),
        cores: [...stat.cores]
          .sort(([a], [b]) => a - b)
          .map(([core, times]) => ({
            core,
            usageRatio: cpuRatios(times, prev?.cores.get(core)).usageRatio,
          })),
      },
      load: parseLoadavg(readProcText(`${this.procRoot}/loadavg`) ?? ""),
      memory: parseMeminfo(this.required("meminfo")),
      filesystems: this.filesystems(),
      disks: [...disks]
        .sort(([a], [b]) => compare(a, b))
        .map(([device, now]) => diskSample(device, now, prev?.disks.get(device), elapsedMs)),
      networkInterfaces: [...nets]
        .sort(([a], [b]) => compare(a, b))
        .map(([name, now]) => netSample(name, now, prev?.nets.get(name), elapsedMs)),
    };
    // Only what the current devices need is kept: state stays as small as the host.
    this.previous = { time, cpu: stat.cpu, cores: stat.cores, disks, nets };
    return sample;
  }

  private required(file: string): string {
    const text = readProcText(`${this.procRoot}/${file}`);
    if (text === undefined) throw new Error(`${this.procRoot}/${file} is not readable`);
    return text;
  }

  private filesystems(): FilesystemSample[] {
    // The last mount of a mount point is the one visible there, so it replaces earlier ones.
    const mounts = new Map<string, { device: string; fsType: string }>();
    for (const line of (readProcText(`${this.procRoot}/mounts`) ?? "").split("\n")) {
      const [device, mountPoint, fsType] = line.split(" ");
      if (device === undefined || mountPoint === undefined || fsType === undefined) continue;
      mounts.set(unescapeMountField(mountPoint), {
        device: unescapeMountField(device),
        fsType,
      });
    }
    const out: FilesystemSample[] = [];
    for (const [mountPoint, { device, fsType }] of mounts) {
      if (pseudoFsTypes.has(fsType) || networkFsTypes.has(fsType)) continue;
      let fs: FilesystemStats;
      try {
        fs = this.statfs(mountPoint);
      } catch {
        continue; // unmounted since /proc/mounts was read, or hidden from this mount namespace
      }
      if (fs.blocks === 0) continue; // no storage of its own
      out.push({
        mountPoint,
        device,
        fsType,
        sizeBytes: fs.blocks * fs.bsize,
        usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
        freeBytes: fs.bfree * fs.bsize,
        availableBytes: fs.bavail * fs.bsize,
        inodesTotal: fs.files,
        inodesUsed: fs.files - fs.ffree,
        inodesFree: fs.ffree,
      });
    }
    return out.sort((a, b) => compare(a.mountPoint, b.mountPoint));
  }
}

/** The aggregate and per-core lines of /proc/stat. */
function parseStat(text: string): { cpu: CpuTimes | undefined; cores: Map<number, CpuTimes> } {
  let cpu: CpuTimes | undefined;
  const cores = new Map<number, CpuTimes>();
  for (const line of text.split("\n")) {
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
  return { cpu, cores };
}

/**
 * "cpuN user nice system idle iowait irq softirq steal guest guest_nice", in USER_HZ. guest and
 * guest_nice are already inside user and nice, so they are not added again.
 */
function parseCpuTimes(fields: string[]): CpuTimes | undefined {
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields
    .slice(1, 9)
    .map((f) => toCount(f) ?? 0);
  if (user === undefined || nice === undefined || system === undefined || idle === undefined) {
    return undefined;
  }
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return {
    busy: total - idle - iowait,
    total,
    user: user + nice,
    system: system + irq + softirq,
    iowait,
  };
}

function cpuRatios(
  now: CpuTimes | undefined,
  prev: CpuTimes | undefined,
): Omit<CpuSample, "cores"> {
  const zero = { usageRatio: 0, userRatio: 0, systemRatio: 0, iowaitRatio: 0 };
  if (now === undefined || prev === undefined) return zero;
  const total = now.total - prev.total;
  if (total <= 0) return zero;
  // iowait may go backwards (proc(5)); each part is clamped so a glitch reads 0, not negative.
  const part = (a: number, b: number) => clampRatio(Math.max(0, a - b) / total);
  return {
    usageRatio: part(now.busy, prev.busy),
    userRatio: part(now.user, prev.user),
    systemRatio: part(now.system, prev.system),
    iowaitRatio: part(now.iowait, prev.iowait),
  };
}

/** "0.52 0.58 0.59 2/467 12345": the first three fields. */
function parseLoadavg(text: string): LoadSample {
  const [load1 = 0, load5 = 0, load15 = 0] = text
    .trim()
    .split(/\s+/)
    .slice(0, 3)
    .map((f) => Number.parseFloat(f) || 0);
  return { load1, load5, load15 };
}

/** "12345.67 23456.78": seconds since boot, then idle seconds of all cores. */
function parseUptime(text: string): number {
  return Number.parseFloat(text) || 0;
}

/** "Key:   value kB" lines; values in KiB despite the "kB". */
function parseMeminfo(text: string): MemorySample {
  const kib = new Map<string, number>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const value = toCount(
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)[0],
    );
    if (value !== undefined) kib.set(line.slice(0, colon), value);
  }
  const bytes = (key: string) => (kib.get(key) ?? 0) * 1024;
  const totalBytes = bytes("MemTotal");
  // MemAvailable exists since Linux 3.14; before that, free + buffers + cache is the estimate.
  const availableBytes = kib.has("MemAvailable")
    ? bytes("MemAvailable")
    : bytes("MemFree") + bytes("Buffers") + bytes("Cached");
  const swapTotalBytes = bytes("SwapTotal");
  const swapFreeBytes = bytes("SwapFree");
  return {
    totalBytes,
    availableBytes,
    usedBytes: Math.max(0, totalBytes - availableBytes),
    cachedBytes: bytes("Cached"),
    swapTotalBytes,
    swapFreeBytes,
    swapUsedBytes: Math.max(0, swapTotalBytes - swapFreeBytes),
  };
}

/**
 * "major minor name reads merged sectors ms writes merged sectors ms in-flight io-ms ...", per
 * Documentation/admin-guide/iostats.rst; whole disks only.
 */
function parseDiskstats(text: string): Map<string, DiskCounters> {
  const disks = new Map<string, DiskCounters>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    const name = f[2];
    if (name === undefined || f.length < 14 || ignoredDisk.test(name)) continue;
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

/**
 * Two header lines, then "name: rx-bytes packets errs drop fifo frame compressed multicast
 * tx-bytes packets errs drop fifo colls carrier compressed". Old kernels print no space after the
 * colon, so the name ends at the colon, not at a space.
 */
function parseNetDev(text: string): Map<string, NetCounters> {
  const nets = new Map<string, NetCounters>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (name === "" || f.length < 16) continue;
    const n = (i: number) => toCount(f[i]) ?? 0;
    nets.set(name, {
      rxBytes: n(0),
      rxPackets: n(1),
      rxErrors: n(2),
      rxDrops: n(3),
      txBytes: n(8),
      txPackets: n(9),
      txErrors: n(10),
      txDrops: n(11),
    });
  }
  return nets;
}

function diskSample(
  device: string,
  now: DiskCounters,
  prev: DiskCounters | undefined,
  elapsedMs: number,
): DiskSample {
  const rate = perSecond(prev, elapsedMs);
  return {
    device,
    readBytesTotal: now.readBytes,
    writeBytesTotal: now.writeBytes,
    readsTotal: now.reads,
    writesTotal: now.writes,
    readBytesPerSecond: rate(now.readBytes, prev?.readBytes),
    writeBytesPerSecond: rate(now.writeBytes, prev?.writeBytes),
    readsPerSecond: rate(now.reads, prev?.reads),
    writesPerSecond: rate(now.writes, prev?.writes),
    utilizationRatio: clampRatio(rate(now.ioMs, prev?.ioMs) / 1000),
  };
}

function netSample(
  name: string,
  now: NetCounters,
  prev: NetCounters | undefined,
  elapsedMs: number,
): NetworkInterfaceSample {
  const rate = perSecond(prev, elapsedMs);
  return {
    name,
    receiveBytesTotal: now.rxBytes,
    transmitBytesTotal: now.txBytes,
    receivePacketsTotal: now.rxPackets,
    transmitPacketsTotal: now.txPackets,
    receiveErrorsTotal: now.rxErrors,
    transmitErrorsTotal: now.txErrors,
    receiveDropsTotal: now.rxDrops,
    transmitDropsTotal: now.txDrops,
    receiveBytesPerSecond: rate(now.rxBytes, prev?.rxBytes),
    transmitBytesPerSecond: rate(now.txBytes, prev?.txBytes),
    receivePacketsPerSecond: rate(now.rxPackets, prev?.rxPackets),
    transmitPacketsPerSecond: rate(now.txPackets, prev?.txPackets),
  };
}

/**
 * The per-second rate of a counter between two samples: 0 without a previous sample or elapsed
 * time, and 0 when the counter went backwards (a reset, not negative traffic).
 */
function perSecond(
  prev: object | undefined,
  elapsedMs: number,
): (now: number, before: number | undefined) => number {
  if (prev === undefined || elapsedMs <= 0) return () => 0;
  return (now, before) =>
    before === undefined || now < before ? 0 : ((now - before) * 1000) / elapsedMs;
}

/** /proc/mounts writes space, tab, newline and backslash as octal escapes (\040 ...). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

function clampRatio(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Code-point order, independent of the locale, so orderings are stable across hosts. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
