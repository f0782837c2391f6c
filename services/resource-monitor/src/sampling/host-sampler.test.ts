import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FilesystemStats, HostSampler } from "./host-sampler.js";

const netDevHeader = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
`;

/** The files of one fixture /proc, before and after 2 seconds. */
const first = {
  stat: `cpu  100 0 50 800 50 0 0 0 0 0
cpu0 60 0 20 400 20 0 0 0 0 0
cpu1 40 0 30 400 30 0 0 0 0 0
intr 12345
btime 1700000000
processes 999
`,
  diskstats: `   7       0 loop0 9 0 9 0 9 0 9 0 0 9 0 0 0 0 0 0 0
   1       0 ram0 9 0 9 0 9 0 9 0 0 9 0
 254       0 vda 100 0 2000 0 50 0 4000 0 0 300 0 0 0 0 0 0 0
 254       1 vda1 90 0 1900 0 40 0 3900 0 0 290 0 0 0 0 0 0 0
 259       0 nvme0n1 10 0 20 0 10 0 20 0 0 5 0
 259       1 nvme0n1p1 10 0 20 0 10 0 20 0 0 5 0
`,
  netDev: `${netDevHeader}    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eth0:5000 50 1 2 0 0 0 0 3000 30 3 4 0 0 0 0
`,
};
const second = {
  // guest (7) is already inside user, so it does not add to the total.
  stat: `cpu  400 100 150 1200 100 25 25 0 7 0
cpu0 300 0 100 550 50 0 0 0 0 0
cpu1 140 100 50 610 50 25 25 0 0 0
btime 1700000000
`,
  diskstats: ` 254       0 vda 300 0 6000 0 150 0 8000 0 0 1300 0 0 0 0 0 0 0
 259       0 nvme0n1 10 0 20 0 10 0 20 0 0 5 0
 253       0 dm-0 4 0 8 0 2 0 4 0 0 1 0
`,
  // eth0's transmit counter went backwards: the interface was re-created.
  netDev: `${netDevHeader}    lo: 3000 30 0 0 0 0 0 0 3000 30 0 0 0 0 0 0
  eth0: 105000 150 1 2 0 0 0 0 100 1 0 0 0 0 0 0
`,
};

const mounts = `/dev/vda1 / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
tmpfs /run tmpfs rw 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
/dev/vdb /mnt/my\\040data xfs rw 0 0
server:/export /home nfs4 rw 0 0
/dev/loop0 /snap/core/1 squashfs ro 0 0
/dev/vdc /data ext4 rw 0 0
/dev/vdd /data ext4 rw 0 0
/dev/vde /gone ext4 rw 0 0
`;

const statfsByPath: Record<string, FilesystemStats> = {
  "/": { bsize: 4096, blocks: 1000, bfree: 400, bavail: 300, files: 100, ffree: 60 },
  "/data": { bsize: 4096, blocks: 50, bfree: 25, bavail: 25, files: 0, ffree: 0 },
  "/mnt/my data": { bsize: 1024, blocks: 2048, bfree: 1024, bavail: 1000, files: 8, ffree: 8 },
  "/var/lib/docker/overlay2/abc/merged": {
    bsize: 4096,
    blocks: 10,
    bfree: 5,
    bavail: 5,
    files: 10,
    ffree: 5,
  },
};

describe("HostSampler", () => {
  describe("sample() on fixture files", () => {
    let root: string;
    let clock: number;
    const statfsCalls: string[] = [];

    const write = (files: { stat: string; diskstats: string; netDev: string }) => {
      writeFileSync(join(root, "stat"), files.stat);
      writeFileSync(join(root, "diskstats"), files.diskstats);
      writeFileSync(join(root, "net", "dev"), files.netDev);
    };

    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), "host-sampler-"));
      mkdirSync(join(root, "net"));
      for (const dir of ["1", "42", "self", "sys"]) mkdirSync(join(root, dir));
      writeFileSync(join(root, "loadavg"), "0.52 1.50 2.25 3/456 7890\n");
      writeFileSync(join(root, "uptime"), "12345.67 2000.00\n");
      writeFileSync(
        join(root, "meminfo"),
        `MemTotal:           1000 kB
MemFree:             200 kB
MemAvailable:        600 kB
Buffers:              10 kB
Cached:              300 kB
SwapCached:            0 kB
SwapTotal:           500 kB
SwapFree:            400 kB
HugePages_Total:       0
`,
      );
      writeFileSync(join(root, "mounts"), mounts);
    });

    /** A new sampler over the first files, at a clock of 1,000,000 ms. */
    const fresh = () => {
      write(first);
      clock = 1_000_000;
      statfsCalls.length = 0;
      return new HostSampler({
        procRoot: root,
        now: () => clock,
        statfs: (path) => {
          statfsCalls.push(path);
          const stats = statfsByPath[path];
          if (stats === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
          return stats;
        },
      });
    };

    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it("reports totals exactly and usage and rates as 0 the first time", () => {
      const s = fresh().sample();
      expect(s.time).toBe(1_000_000);
      expect(s.uptimeSeconds).toBe(12345.67);
      expect(s.processCount).toBe(2);
      expect(s.cpu).toEqual({
        usageRatio: 0,
        userRatio: 0,
        systemRatio: 0,
        iowaitRatio: 0,
        cores: [
          { core: 0, usageRatio: 0 },
          { core: 1, usageRatio: 0 },
        ],
      });
      expect(s.load).toEqual({ load1: 0.52, load5: 1.5, load15: 2.25 });
      expect(s.memory).toEqual({
        totalBytes: 1_024_000,
        availableBytes: 614_400,
        usedBytes: 409_600,
        cachedBytes: 307_200,
        swapTotalBytes: 512_000,
        swapFreeBytes: 409_600,
        swapUsedBytes: 102_400,
      });
      expect(s.disks).toEqual([
        {
          device: "nvme0n1",
          readBytesTotal: 10_240,
          writeBytesTotal: 10_240,
          readsTotal: 10,
          writesTotal: 10,
          readBytesPerSecond: 0,
          writeBytesPerSecond: 0,
          readsPerSecond: 0,
          writesPerSecond: 0,
          utilizationRatio: 0,
        },
        {
          device: "vda",
          readBytesTotal: 1_024_000,
          writeBytesTotal: 2_048_000,
          readsTotal: 100,
          writesTotal: 50,
          readBytesPerSecond: 0,
          writeBytesPerSecond: 0,
          readsPerSecond: 0,
          writesPerSecond: 0,
          utilizationRatio: 0,
        },
      ]);
      expect(s.networkInterfaces.map((n) => n.name)).toEqual(["eth0", "lo"]);
      expect(s.networkInterfaces[0]).toEqual({
        name: "eth0",
        receiveBytesTotal: 5000,
        transmitBytesTotal: 3000,
        receivePacketsTotal: 50,
        transmitPacketsTotal: 30,
        receiveErrorsTotal: 1,
        transmitErrorsTotal: 3,
        receiveDropsTotal: 2,
        transmitDropsTotal: 4,
        receiveBytesPerSecond: 0,
        transmitBytesPerSecond: 0,
        receivePacketsPerSecond: 0,
        transmitPacketsPerSecond: 0,
      });
    });

    it("reports real filesystems by mount point, the last mount of a point winning", () => {
      const s = fresh().sample();
      expect(s.filesystems).toEqual([
        {
          mountPoint: "/",
          device: "/dev/vda1",
          fsType: "ext4",
          sizeBytes: 4_096_000,
          usedBytes: 2_457_600,
          freeBytes: 1_638_400,
          availableBytes: 1_228_800,
          inodesTotal: 100,
          inodesUsed: 40,
          inodesFree: 60,
        },
        {
          mountPoint: "/data",
          device: "/dev/vdd",
          fsType: "ext4",
          sizeBytes: 204_800,
          usedBytes: 102_400,
          freeBytes: 102_400,
          availableBytes: 102_400,
          inodesTotal: 0,
          inodesUsed: 0,
          inodesFree: 0,
        },
        {
          mountPoint: "/mnt/my data",
          device: "/dev/vdb",
          fsType: "xfs",
          sizeBytes: 2_097_152,
          usedBytes: 1_048_576,
          freeBytes: 1_048_576,
          availableBytes: 1_024_000,
          inodesTotal: 8,
          inodesUsed: 0,
          inodesFree: 8,
        },
        {
          mountPoint: "/var/lib/docker/overlay2/abc/merged",
          device: "overlay",
          fsType: "overlay",
          sizeBytes: 40_960,
          usedBytes: 20_480,
          freeBytes: 20_480,
          availableBytes: 20_480,
          inodesTotal: 10,
          inodesUsed: 5,
          inodesFree: 5,
        },
      ]);
      // Pseudo and network filesystems are never statfs'd: a dead NFS server would hang it.
      expect(new Set(statfsCalls)).toEqual(
        new Set(["/", "/data", "/mnt/my data", "/var/lib/docker/overlay2/abc/merged", "/gone"]),
      );
    });

    it("computes usage, rates and utilization from the difference to the previous sample", () => {
      const sampler = fresh();
      sampler.sample(); // the baseline: the first files, 2 s before the second ones
      clock += 2000;
      write(second);
      const s = sampler.sample();
      expect(s.time).toBe(1_002_000);
      expect(s.cpu).toEqual({
        usageRatio: 0.55,
        userRatio: 0.4,
        systemRatio: 0.15,
        iowaitRatio: 0.05,
        cores: [
          { core: 0, usageRatio: 0.64 },
          { core: 1, usageRatio: 0.54 },
        ],
      });
      const vda = s.disks.find((d) => d.device === "vda");
      expect(vda).toEqual({
        device: "vda",
        readBytesTotal: 3_072_000,
        writeBytesTotal: 4_096_000,
        readsTotal: 300,
        writesTotal: 150,
        readBytesPerSecond: 1_024_000,
        writeBytesPerSecond: 1_024_000,
        readsPerSecond: 100,
        writesPerSecond: 50,
        utilizationRatio: 0.5,
      });
      // Unchanged counters read 0/s; a device seen for the first time has no rate yet.
      expect(s.disks.map((d) => [d.device, d.readBytesPerSecond, d.utilizationRatio])).toEqual([
        ["dm-0", 0, 0],
        ["nvme0n1", 0, 0],
        ["vda", 1_024_000, 0.5],
      ]);
      const [eth0, lo] = s.networkInterfaces;
      expect(lo).toMatchObject({
        receiveBytesPerSecond: 1000,
        transmitBytesPerSecond: 1000,
        receivePacketsPerSecond: 10,
        transmitPacketsPerSecond: 10,
      });
      // A counter that went backwards is a reset, not negative traffic.
      expect(eth0).toMatchObject({
        receiveBytesTotal: 105_000,
        transmitBytesTotal: 100,
        receiveBytesPerSecond: 50_000,
        transmitBytesPerSecond: 0,
        receivePacketsPerSecond: 50,
        transmitPacketsPerSecond: 0,
      });
    });
  });
});
