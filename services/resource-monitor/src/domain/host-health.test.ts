import { describe, expect, it } from "vitest";
import {
  evaluateHostHealth,
  type HealthCheckName,
  type HostHealthInput,
  type HostHealthResult,
  type HostHealthSnapshot,
  mountPointOf,
} from "./host-health.js";

const sec = 1_000;
/** The controllable clock: times are offsets from t0. */
const t0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const at = (ms: number) => new Date(t0 + ms);

const calm: HostHealthSnapshot = {
  filesystems: [
    { mountPoint: "/", usedPercent: 40 },
    { mountPoint: "/var/lib/lucid", usedPercent: 50 },
    { mountPoint: "/data", usedPercent: 60 },
  ],
  memoryAvailablePercent: 60,
  swapUsedPercent: 0,
};

const input = (
  over: Partial<HostHealthInput> = {},
  host: Partial<HostHealthSnapshot> = {},
): HostHealthInput => ({
  host: { ...calm, ...host },
  xrdpInstalled: true,
  lastSampleTime: at(0),
  now: at(5 * sec),
  thresholds: { sampleIntervalMs: 10 * sec, criticalMounts: ["/", "/var/lib/lucid"] },
  ...over,
});

const check = (result: HostHealthResult, name: HealthCheckName) => {
  const found = result.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check ${name}`);
  return { status: found.status, fatal: found.fatal, message: found.message };
};

describe("evaluateHostHealth()", () => {
  it("is HEALTHY when every check passes, listing the checks by name", () => {
    const r = evaluateHostHealth(input());
    expect(r.status).toBe("HEALTHY");
    expect(r.checks.map((c) => [c.name, c.status, c.message])).toEqual([
      ["disk_space", "PASSING", ""],
      ["memory_pressure", "PASSING", ""],
      ["sampling", "PASSING", ""],
      ["xrdp_installed", "PASSING", ""],
    ]);
    expect(
      r.checks.every((c) => c.fatal && c.lastCheckTime.getTime() === at(5 * sec).getTime()),
    ).toBe(true);
  });

  describe("disk_space", () => {
    it("is fatal when / or the state directory's mount is nearly full", () => {
      const root = evaluateHostHealth(
        input({}, { filesystems: [{ mountPoint: "/", usedPercent: 97.35 }] }),
      );
      expect(root.status).toBe("UNHEALTHY");
      expect(check(root, "disk_space")).toEqual({
        status: "FAILING",
        fatal: true,
        message: "/ is 97.3% full",
      });
      const state = evaluateHostHealth(
        input(
          {},
          {
            filesystems: [
              ...calm.filesystems.slice(0, 1),
              { mountPoint: "/var/lib/lucid", usedPercent: 95 },
            ],
          },
        ),
      );
      expect(check(state, "disk_space")).toMatchObject({ status: "FAILING", fatal: true });
    });

    it("degrades the host when another filesystem, or a critical one short of fatal, fills up", () => {
      const data = evaluateHostHealth(
        input({}, { filesystems: [{ mountPoint: "/data", usedPercent: 99 }] }),
      );
      expect(data.status).toBe("DEGRADED");
      expect(check(data, "disk_space")).toEqual({
        status: "FAILING",
        fatal: false,
        message: "/data is 99% full",
      });
      const root = evaluateHostHealth(
        input({}, { filesystems: [{ mountPoint: "/", usedPercent: 94.99 }] }),
      );
      expect(check(root, "disk_space")).toEqual({
        status: "FAILING",
        fatal: false,
        message: "/ is 94.9% full",
      });
    });

    it("names every full filesystem, fullest first", () => {
      const r = evaluateHostHealth(
        input(
          {},
          {
            filesystems: [
              { mountPoint: "/data", usedPercent: 91 },
              { mountPoint: "/", usedPercent: 96 },
            ],
          },
        ),
      );
      expect(check(r, "disk_space").message).toBe("/ is 96% full; /data is 91% full");
    });
  });

  describe("memory_pressure", () => {
    it("is fatal below 5% available memory", () => {
      const r = evaluateHostHealth(input({}, { memoryAvailablePercent: 4.5 }));
      expect(r.status).toBe("UNHEALTHY");
      expect(check(r, "memory_pressure")).toEqual({
        status: "FAILING",
        fatal: true,
        message: "only 4.5% of memory available",
      });
    });

    it("degrades the host below 10% available or with swap mostly used", () => {
      expect(
        check(evaluateHostHealth(input({}, { memoryAvailablePercent: 8 })), "memory_pressure"),
      ).toEqual({
        status: "FAILING",
        fatal: false,
        message: "only 8% of memory available",
      });
      const swap = evaluateHostHealth(input({}, { swapUsedPercent: 85 }));
      expect(swap.status).toBe("DEGRADED");
      expect(check(swap, "memory_pressure")).toEqual({
        status: "FAILING",
        fatal: false,
        message: "swap is 85% used",
      });
    });
  });

  describe("xrdp_installed", () => {
    it("is fatal when xrdp is missing", () => {
      const r = evaluateHostHealth(input({ xrdpInstalled: false }));
      expect(r.status).toBe("UNHEALTHY");
      expect(check(r, "xrdp_installed")).toEqual({
        status: "FAILING",
        fatal: true,
        message: "xrdp is not installed",
      });
    });
  });

  describe("sampling", () => {
    it("passes up to three intervals after the last sample and is fatal after", () => {
      expect(evaluateHostHealth(input({ now: at(30 * sec) })).status).toBe("HEALTHY");
      const stalled = evaluateHostHealth(input({ now: at(31 * sec) }));
      expect(stalled.status).toBe("UNHEALTHY");
      expect(check(stalled, "sampling")).toEqual({
        status: "FAILING",
        fatal: true,
        message: "no sample for 31s (interval 10s)",
      });
      // stale data says nothing about disk and memory
      expect(check(stalled, "disk_space").status).toBe("UNKNOWN");
      expect(check(stalled, "memory_pressure").status).toBe("UNKNOWN");
    });

    it("honours a configured number of intervals", () => {
      const r = evaluateHostHealth(
        input({ now: at(31 * sec), thresholds: { sampleIntervalMs: 10 * sec, staleIntervals: 5 } }),
      );
      expect(r.status).toBe("HEALTHY");
    });

    it("is UNKNOWN (host DEGRADED) before the first sample, and fatal once sampling is overdue", () => {
      const early = evaluateHostHealth(
        input({ host: undefined, lastSampleTime: undefined, startTime: at(0), now: at(5 * sec) }),
      );
      expect(early.status).toBe("DEGRADED");
      expect(early.checks.map((c) => c.status)).toEqual([
        "UNKNOWN",
        "UNKNOWN",
        "UNKNOWN",
        "PASSING",
      ]);
      const overdue = evaluateHostHealth(
        input({ host: undefined, lastSampleTime: undefined, startTime: at(0), now: at(40 * sec) }),
      );
      expect(overdue.status).toBe("UNHEALTHY");
      expect(check(overdue, "sampling")).toEqual({
        status: "FAILING",
        fatal: true,
        message: "no sample taken in 40s",
      });
    });
  });

  it("keeps a check's transition time while its status holds and moves it when it changes", () => {
    const first = evaluateHostHealth(input({ now: at(1 * sec) }));
    const same = evaluateHostHealth(input({ now: at(2 * sec), previous: first }));
    const changed = evaluateHostHealth(
      input({ now: at(3 * sec), previous: same, xrdpInstalled: false }),
    );
    const times = (r: HostHealthResult, name: HealthCheckName) => {
      const c = r.checks.find((x) => x.name === name);
      return [c?.lastCheckTime.getTime(), c?.lastTransitionTime.getTime()].map(
        (t) => (t ?? 0) - t0,
      );
    };
    expect(times(same, "disk_space")).toEqual([2 * sec, 1 * sec]);
    expect(times(changed, "disk_space")).toEqual([3 * sec, 1 * sec]);
    expect(times(changed, "xrdp_installed")).toEqual([3 * sec, 3 * sec]);
  });
});

describe("mountPointOf()", () => {
  const mounts = ["/", "/var", "/var/lib/lucid", "/var/li"];

  it("finds the longest mount point containing the path, by whole segments", () => {
    expect(mountPointOf("/var/lib/lucid/state", mounts)).toBe("/var/lib/lucid");
    expect(mountPointOf("/var/lib/other", mounts)).toBe("/var");
    expect(mountPointOf("/var", mounts)).toBe("/var");
    expect(mountPointOf("/home/x", mounts)).toBe("/");
    expect(mountPointOf("/home/x", ["/data"])).toBeUndefined();
  });
});
