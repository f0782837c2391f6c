/**
 * The Prometheus export of what the monitor samples: host gauges, cumulative counters (disk and
 * network bytes) and per-server gauges. Label sets are bounded: host series are labelled by core,
 * mount point, device or interface; server series by server id and node only, and the series of a
 * server that is gone are removed, so cardinality does not grow forever. Names and units follow
 * the conventions (_bytes, _ratio, _total).
 */
import { Counter, Gauge, type Registry } from "prom-client";

export interface HostView {
  readonly cpuRatio: number;
  readonly cores: readonly { readonly core: number; readonly ratio: number }[];
  readonly load: readonly [number, number, number];
  readonly memoryTotalBytes: number;
  readonly memoryAvailableBytes: number;
  readonly swapTotalBytes: number;
  readonly swapUsedBytes: number;
  readonly filesystems: readonly {
    readonly mountPoint: string;
    readonly device: string;
    readonly fsType: string;
    readonly sizeBytes: number;
    readonly usedBytes: number;
    readonly availableBytes: number;
  }[];
  readonly disks: readonly {
    readonly device: string;
    readonly readBytesTotal: number;
    readonly writeBytesTotal: number;
  }[];
  readonly interfaces: readonly {
    readonly name: string;
    readonly receiveBytesTotal: number;
    readonly transmitBytesTotal: number;
  }[];
}

export interface ServerView {
  readonly serverId: string;
  /** CPU of all the server's processes, in cores (1 = one core busy). */
  readonly cpuCores: number;
  readonly rssBytes: number;
  readonly processes: number;
}

export class MetricsExporter {
  private readonly g: Record<string, Gauge<string>>;
  private readonly c: Record<string, Counter<string>>;
  /** Last cumulative value per counter series, to add deltas. */
  private readonly last = new Map<string, number>();
  private servers = new Set<string>();

  constructor(private readonly node: string) {
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: [] });
    const counter = (name: string, help: string, labelNames: string[]) =>
      new Counter({ name, help, labelNames, registers: [] });
    this.g = {
      cpu: gauge("lucid_host_cpu_usage_ratio", "Share of all cores busy, 0 to 1."),
      core: gauge("lucid_host_cpu_core_usage_ratio", "Share of one core busy, 0 to 1.", ["core"]),
      load: gauge("lucid_host_load_average", "Load average.", ["window"]),
      memTotal: gauge("lucid_host_memory_total_bytes", "Memory installed."),
      memAvail: gauge("lucid_host_memory_available_bytes", "Memory available for new work."),
      swapTotal: gauge("lucid_host_swap_total_bytes", "Swap space."),
      swapUsed: gauge("lucid_host_swap_used_bytes", "Swap in use."),
      fsSize: gauge("lucid_host_filesystem_size_bytes", "Filesystem size.", [
        "mountpoint",
        "device",
        "fstype",
      ]),
      fsUsed: gauge("lucid_host_filesystem_used_bytes", "Filesystem space used.", [
        "mountpoint",
        "device",
        "fstype",
      ]),
      fsAvail: gauge("lucid_host_filesystem_available_bytes", "Filesystem space available.", [
        "mountpoint",
        "device",
        "fstype",
      ]),
      srvCpu: gauge("lucid_server_cpu_usage_cores", "CPU of a server's processes, in cores.", [
        "server_id",
        "node",
      ]),
      srvRss: gauge("lucid_server_memory_rss_bytes", "Resident memory of a server's processes.", [
        "server_id",
        "node",
      ]),
      srvProcs: gauge("lucid_server_processes", "Processes of a server.", ["server_id", "node"]),
    };
    this.c = {
      diskRead: counter("lucid_host_disk_read_bytes_total", "Bytes read from a block device.", [
        "device",
      ]),
      diskWrite: counter(
        "lucid_host_disk_written_bytes_total",
        "Bytes written to a block device.",
        ["device"],
      ),
      netRx: counter("lucid_host_network_receive_bytes_total", "Bytes received on an interface.", [
        "interface",
      ]),
      netTx: counter("lucid_host_network_transmit_bytes_total", "Bytes sent on an interface.", [
        "interface",
      ]),
    };
  }

  /** Adds every metric to `registry` (the server's, behind /metrics). */
  register(registry: Registry): void {
    for (const m of [...Object.values(this.g), ...Object.values(this.c)])
      registry.registerMetric(m);
  }

  private add(
    counter: Counter<string>,
    key: string,
    labels: Record<string, string>,
    total: number,
  ) {
    const prev = this.last.get(key);
    this.last.set(key, total);
    // The first sight of a series, and a reset of the source (a device re-appeared), count as is.
    const delta = prev === undefined || total < prev ? total : total - prev;
    if (delta > 0) counter.inc(labels, delta);
    else if (prev === undefined) counter.inc(labels, 0);
  }

  updateHost(h: HostView): void {
    const g = this.g;
    g.cpu.set(h.cpuRatio);
    for (const c of h.cores) g.core.set({ core: String(c.core) }, c.ratio);
    for (const [i, window] of ["1m", "5m", "15m"].entries()) g.load.set({ window }, h.load[i] ?? 0);
    g.memTotal.set(h.memoryTotalBytes);
    g.memAvail.set(h.memoryAvailableBytes);
    g.swapTotal.set(h.swapTotalBytes);
    g.swapUsed.set(h.swapUsedBytes);
    for (const fs of h.filesystems) {
      const labels = { mountpoint: fs.mountPoint, device: fs.device, fstype: fs.fsType };
      g.fsSize.set(labels, fs.sizeBytes);
      g.fsUsed.set(labels, fs.usedBytes);
      g.fsAvail.set(labels, fs.availableBytes);
    }
    for (const d of h.disks) {
      this.add(
        this.c.diskRead as Counter<string>,
        `dr:${d.device}`,
        { device: d.device },
        d.readBytesTotal,
      );
      this.add(
        this.c.diskWrite as Counter<string>,
        `dw:${d.device}`,
        { device: d.device },
        d.writeBytesTotal,
      );
    }
    for (const n of h.interfaces) {
      this.add(
        this.c.netRx as Counter<string>,
        `rx:${n.name}`,
        { interface: n.name },
        n.receiveBytesTotal,
      );
      this.add(
        this.c.netTx as Counter<string>,
        `tx:${n.name}`,
        { interface: n.name },
        n.transmitBytesTotal,
      );
    }
  }

  /** Sets the series of the servers seen now and removes those of servers that are gone. */
  updateServers(servers: readonly ServerView[]): void {
    const seen = new Set<string>();
    for (const s of servers) {
      const labels = { server_id: s.serverId, node: this.node };
      this.g.srvCpu.set(labels, s.cpuCores);
      this.g.srvRss.set(labels, s.rssBytes);
      this.g.srvProcs.set(labels, s.processes);
      seen.add(s.serverId);
    }
    for (const gone of this.servers) {
      if (seen.has(gone)) continue;
      const labels = { server_id: gone, node: this.node };
      this.g.srvCpu.remove(labels);
      this.g.srvRss.remove(labels);
      this.g.srvProcs.remove(labels);
    }
    this.servers = seen;
  }
}
