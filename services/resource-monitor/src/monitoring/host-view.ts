/** A host sample as the Prometheus exporter's view of it. */
import type { HostSample } from "../sampling/host-sampler.js";
import type { HostView } from "./metrics-exporter.js";

/** A host sample as the exporter's view. */
export function hostView(h: HostSample): HostView {
  return {
    cpuRatio: h.cpu.usageRatio,
    cores: h.cpu.cores.map((c) => ({ core: c.core, ratio: c.usageRatio })),
    load: [h.load.load1, h.load.load5, h.load.load15],
    memoryTotalBytes: h.memory.totalBytes,
    memoryAvailableBytes: h.memory.availableBytes,
    swapTotalBytes: h.memory.swapTotalBytes,
    swapUsedBytes: h.memory.swapUsedBytes,
    filesystems: h.filesystems.map((f) => ({
      mountPoint: f.mountPoint,
      device: f.device,
      fsType: f.fsType,
      sizeBytes: f.sizeBytes,
      usedBytes: f.usedBytes,
      availableBytes: f.availableBytes,
    })),
    disks: h.disks.map((d) => ({
      device: d.device,
      readBytesTotal: d.readBytesTotal,
      writeBytesTotal: d.writeBytesTotal,
    })),
    interfaces: h.networkInterfaces.map((n) => ({
      name: n.name,
      receiveBytesTotal: n.receiveBytesTotal,
      transmitBytesTotal: n.transmitBytesTotal,
    })),
  };
}
