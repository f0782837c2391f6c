/** HostSampler on this host's real /proc (the fixture tests are beside the code, in src/). */
import { describe, expect, it } from "vitest";
import { HostSampler } from "../src/sampling/host-sampler.js";

describe("HostSampler", () => {
  describe("sample() on this host's /proc", () => {
    it("sees at least one core, memory, a filesystem for / and the loopback interface", () => {
      // The injected clock makes the second sample 250 ms after the first whatever the machine's
      // speed; the ratios below come from the kernel's counters and hold for any interval.
      let clock = Date.now();
      const sampler = new HostSampler({ now: () => clock });
      const before = sampler.sample();
      clock += 250;
      const s = sampler.sample();
      expect(s.time).toBeGreaterThan(before.time);
      expect(s.uptimeSeconds).toBeGreaterThan(0);
      expect(s.processCount).toBeGreaterThan(0);
      expect(s.cpu.cores.length).toBeGreaterThanOrEqual(1);
      for (const ratio of [s.cpu.usageRatio, ...s.cpu.cores.map((c) => c.usageRatio)]) {
        expect(ratio).toBeGreaterThanOrEqual(0);
        expect(ratio).toBeLessThanOrEqual(1);
      }
      expect(s.memory.totalBytes).toBeGreaterThan(0);
      expect(s.memory.availableBytes).toBeLessThanOrEqual(s.memory.totalBytes);
      const rootFs = s.filesystems.find((f) => f.mountPoint === "/");
      expect(rootFs?.sizeBytes).toBeGreaterThan(0);
      const lo = s.networkInterfaces.find((n) => n.name === "lo");
      expect(lo).toBeDefined();
      expect(lo?.receiveBytesPerSecond).toBeGreaterThanOrEqual(0);
    });
  });
});
