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
import {
  type CpuTimes,
  type DiskCounters,
  type LoadAverage,
  listPids,
  type NetDevCounters,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseSystemStat,
  parseUptime,
  readProcText,
} from "@lucid-rdp/proc";

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
export type LoadSample = LoadAverage;

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

/** CPU times reduced to what the ratios need, in clock ticks. */
interface CpuTotals {
  busy: number;
  total: number;
  user: number;
  system: number;
  iowait: number;
}

/** The counters of the previous sample, which rates and usage are computed against. */
interface Previous {
  time: number;
  cpu: CpuTotals | undefined;
  cores: Map<number, CpuTotals>;
  disks: Map<string, DiskCounters>;
  nets: Map<string, NetDevCounters>;
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

    const stat = parseSystemStat(this.required("stat"));
    const cpu = stat.cpu === undefined ? undefined : cpuTotals(stat.cpu);
    const cores = new Map([...stat.cores].map(([core, times]) => [core, cpuTotals(times)]));
    const disks = wholeDisks(parseDiskstats(readProcText(`${this.procRoot}/diskstats`) ?? ""));
    const nets = parseNetDev(readProcText(`${this.procRoot}/net/dev`) ?? "");

    const sample: HostSample = {
      time,
      uptimeSeconds: parseUptime(readProcText(`${this.procRoot}/uptime`) ?? ""),
      processCount: listPids(this.procRoot).length,
      cpu: {
        ...cpuRatios(cpu, prev?.cpu),
        cores: [...cores]
          .sort(([a], [b]) => a - b)
          .map(([core, times]) => ({
            core,
            usageRatio: cpuRatios(times, prev?.cores.get(core)).usageRatio,
          })),
      },
      load: parseLoadavg(readProcText(`${this.procRoot}/loadavg`) ?? ""),
      memory: memorySample(parseMeminfo(this.required("meminfo"))),
      filesystems: this.filesystems(),
      disks: [...disks]
        .sort(([a], [b]) => compare(a, b))
        .map(([device, now]) => diskSample(device, now, prev?.disks.get(device), elapsedMs)),
      networkInterfaces: [...nets]
        .sort(([a], [b]) => compare(a, b))
        .map(([name, now]) => netSample(name, now, prev?.nets.get(name), elapsedMs)),
    };
    // Only what the current devices need is kept: state stays as small as the host.
    this.previous = { time, cpu, cores, disks, nets };
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
    for (const { device, mountPoint, fsType } of parseMounts(
      readProcText(`${this.procRoot}/mounts`) ?? "",
    )) {
      mounts.set(mountPoint, { device, fsType });
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

/**
 * Busy, user and system time of a CPU. guest and guest_nice are already inside user and nice (and
 * not parsed), so they are not added again.
 */
function cpuTotals(t: CpuTimes): CpuTotals {
  const total = t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
  return {
    busy: total - t.idle - t.iowait,
    total,
    user: t.user + t.nice,
    system: t.system + t.irq + t.softirq,
    iowait: t.iowait,
  };
}

function cpuRatios(
  now: CpuTotals | undefined,
  prev: CpuTotals | undefined,
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

/** Memory and swap from /proc/meminfo's values (in bytes). */
function memorySample(bytesByKey: Map<string, number>): MemorySample {
  const bytes = (key: string) => bytesByKey.get(key) ?? 0;
  const totalBytes = bytes("MemTotal");
  // MemAvailable exists since Linux 3.14; before that, free + buffers + cache is the estimate.
  const availableBytes = bytesByKey.has("MemAvailable")
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

/** The whole disks of /proc/diskstats: {@link ignoredDisk} devices left out. */
function wholeDisks(all: Map<string, DiskCounters>): Map<string, DiskCounters> {
  return new Map([...all].filter(([name]) => !ignoredDisk.test(name)));
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
  now: NetDevCounters,
  prev: NetDevCounters | undefined,
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

function clampRatio(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Code-point order, independent of the locale, so orderings are stable across hosts. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
