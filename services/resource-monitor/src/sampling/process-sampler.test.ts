import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { endianness, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessSampler } from "./process-sampler.js";

/** A /proc/<pid>/stat line; fields not given are realistic constants. */
function statLine(s: {
  pid: number;
  comm: string;
  ppid: number;
  utime?: number;
  stime?: number;
  threads?: number;
  start?: number;
  vsize?: number;
  rss?: number;
}): string {
  const f = [
    "S", // 3 state
    s.ppid, // 4
    s.pid, // 5 pgrp
    s.pid, // 6 session
    0, // 7 tty_nr
    -1, // 8 tpgid
    4194560, // 9 flags
    500, // 10 minflt
    0, // 11 cminflt
    0, // 12 majflt
    0, // 13 cmajflt
    s.utime ?? 0, // 14
    s.stime ?? 0, // 15
    0, // 16 cutime
    0, // 17 cstime
    20, // 18 priority
    0, // 19 nice
    s.threads ?? 1, // 20
    0, // 21 itrealvalue
    s.start ?? 1000, // 22 starttime
    s.vsize ?? 0, // 23
    s.rss ?? 0, // 24
    "18446744073709551615", // 25 rsslim
  ];
  return `${s.pid} (${s.comm}) ${f.join(" ")} 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n`;
}

/** An auxiliary vector of 64-bit words in this machine's byte order: (type, value) pairs. */
function auxv(pairs: [number, number][]): Buffer {
  const buf = Buffer.alloc(pairs.length * 16);
  pairs.forEach(([type, value], i) => {
    const write = (endianness() === "LE" ? buf.writeBigUInt64LE : buf.writeBigUInt64BE).bind(buf);
    write(BigInt(type), i * 16);
    write(BigInt(value), i * 16 + 8);
  });
  return buf;
}

describe("ProcessSampler", () => {
  describe("on fixture files", () => {
    let root: string;
    let clock = 0;

    const writeProcess = (pid: number, stat: string, extra: { fds?: number; io?: string } = {}) => {
      const dir = join(root, String(pid));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "stat"), stat);
      if (extra.fds !== undefined) {
        mkdirSync(join(dir, "fd"), { recursive: true });
        for (let fd = 0; fd < extra.fds; fd++) writeFileSync(join(dir, "fd", String(fd)), "");
      }
      if (extra.io !== undefined) writeFileSync(join(dir, "io"), extra.io);
    };

    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), "process-sampler-"));
      writeFileSync(join(root, "stat"), "cpu  1 2 3 4\nbtime 1700000000\nprocesses 9\n");
      mkdirSync(join(root, "self"));
      // AT_PHDR (3), AT_PAGESZ (6) = 16 KiB, AT_NULL (0): a 16K-page arm64 kernel.
      writeFileSync(
        join(root, "self", "auxv"),
        auxv([
          [3, 0x400040],
          [6, 16384],
          [0, 0],
        ]),
      );
      writeProcess(1, statLine({ pid: 1, comm: "init", ppid: 0 }));
      writeProcess(
        100,
        statLine({
          pid: 100,
          comm: "xrdp",
          ppid: 1,
          utime: 150,
          stime: 50,
          threads: 3,
          start: 12345,
          vsize: 104_857_600,
          rss: 2560,
        }),
        {
          fds: 4,
          io: "rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n",
        },
      );
      // comm may hold spaces and parentheses; no fd or io: as for another user's process.
      writeProcess(101, statLine({ pid: 101, comm: "my (odd) name", ppid: 100, start: 20000 }));
      writeProcess(102, statLine({ pid: 102, comm: "Xvnc", ppid: 101 }));
      writeProcess(103, statLine({ pid: 103, comm: "xrdp-chansrv", ppid: 100 }));
      writeProcess(200, statLine({ pid: 200, comm: "sshd", ppid: 1 }));
    });

    afterAll(() => rmSync(root, { recursive: true, force: true }));

    const sampler = () => new ProcessSampler({ procRoot: root, now: () => clock });

    describe("sample()", () => {
      it("reads every field, with CPU 0 at a process's first sample", () => {
        clock = 1_000_000;
        const samples = sampler().sample([100, 101]);
        expect(samples.get(100)).toEqual({
          pid: 100,
          ppid: 1,
          name: "xrdp",
          state: "S",
          startTicks: 12345,
          startTime: 1_700_000_000_000 + 123_450,
          time: 1_000_000,
          cpuPercent: 0,
          cpuSecondsTotal: 2,
          rssBytes: 2560 * 16384,
          virtualBytes: 104_857_600,
          threads: 3,
          openFds: 4,
          ioReadBytesTotal: 4096,
          ioWriteBytesTotal: 8192,
        });
        const odd = samples.get(101);
        expect(odd?.name).toBe("my (odd) name");
        expect(odd?.ppid).toBe(100);
        expect(odd).not.toHaveProperty("openFds");
        expect(odd).not.toHaveProperty("ioReadBytesTotal");
        expect(odd).not.toHaveProperty("ioWriteBytesTotal");
      });

      it("computes CPU in percent of one core from the difference to the previous sample", () => {
        const s = sampler();
        clock = 1_000_000;
        s.sample([100]);
        // 150 more ticks (1.5 s of CPU) in 2 s of wall time: 75% of one core.
        writeProcess(
          100,
          statLine({ pid: 100, comm: "xrdp", ppid: 1, utime: 250, stime: 100, start: 12345 }),
        );
        clock += 2000;
        expect(s.sample([100]).get(100)?.cpuPercent).toBe(75);
        // 400 more ticks in 1 s: a process with several busy threads exceeds 100.
        writeProcess(
          100,
          statLine({ pid: 100, comm: "xrdp", ppid: 1, utime: 550, stime: 200, start: 12345 }),
        );
        clock += 1000;
        expect(s.sample([100]).get(100)?.cpuPercent).toBe(400);
      });

      it("starts over for a recycled pid: same pid, another start time", () => {
        const s = sampler();
        clock = 1_000_000;
        s.sample([100]);
        writeProcess(100, statLine({ pid: 100, comm: "bash", ppid: 1, utime: 9000, start: 99999 }));
        clock += 1000;
        expect(s.sample([100]).get(100)).toMatchObject({ name: "bash", cpuPercent: 0 });
        writeProcess(100, statLine({ pid: 100, comm: "bash", ppid: 1, utime: 9050, start: 99999 }));
        clock += 1000;
        expect(s.sample([100]).get(100)?.cpuPercent).toBe(50);
      });

      it("forgets pids the last call did not name", () => {
        const s = sampler();
        writeProcess(103, statLine({ pid: 103, comm: "xrdp-chansrv", ppid: 100, utime: 10 }));
        clock = 1_000_000;
        s.sample([103]);
        s.sample([102]);
        writeProcess(103, statLine({ pid: 103, comm: "xrdp-chansrv", ppid: 100, utime: 60 }));
        clock += 1000;
        // Had 103's baseline been kept, this would read 50%.
        expect(s.sample([103]).get(103)?.cpuPercent).toBe(0);
      });

      it("leaves out pids that do not exist or are not pids", () => {
        const samples = sampler().sample([102, 999, -1, 0, 1.5, Number.NaN, 102]);
        expect([...samples.keys()]).toEqual([102]);
      });

      it("assumes 4 KiB pages when the auxiliary vector cannot be read", () => {
        const bare = mkdtempSync(join(tmpdir(), "process-sampler-bare-"));
        try {
          mkdirSync(join(bare, "7"));
          writeFileSync(join(bare, "7", "stat"), statLine({ pid: 7, comm: "a", ppid: 1, rss: 10 }));
          const s = new ProcessSampler({ procRoot: bare, now: () => 0 });
          expect(s.sample([7]).get(7)?.rssBytes).toBe(40_960);
        } finally {
          rmSync(bare, { recursive: true, force: true });
        }
      });
    });

    describe("tree()", () => {
      it("returns the root, then its descendants, parents before children", () => {
        const tree = sampler().tree(100);
        expect(tree[0]).toBe(100);
        expect(new Set(tree)).toEqual(new Set([100, 101, 102, 103]));
        expect(tree.indexOf(101)).toBeLessThan(tree.indexOf(102));
      });

      it("returns only the root for a leaf and nothing for a pid that does not exist", () => {
        expect(sampler().tree(102)).toEqual([102]);
        expect(sampler().tree(999)).toEqual([]);
      });
    });

    describe("trees()", () => {
      it("answers several roots from one scan", () => {
        const trees = sampler().trees([101, 200, 999]);
        expect([...trees]).toEqual([
          [101, [101, 102]],
          [200, [200]],
          [999, []],
        ]);
      });
    });
  });
});
