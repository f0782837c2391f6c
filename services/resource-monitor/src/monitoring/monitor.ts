/**
 * The sampling loop: every interval, the host from /proc, then the process trees of this node's
 * xrdp instances (asked of its xrdp-integration), aggregated per server. Keeps a bounded history
 * per series, feeds the Prometheus exporter and the alert evaluation, and tells watchers.
 */
import { EventEmitter, on } from "node:events";
import type { Logger } from "@lucid-rdp/runtime";
import type { XrdpIntegrationClient } from "../clients/xrdp-integration-client.js";
import type { MetricName, SeriesValue } from "../domain/metrics-catalog.js";
import { liveInstanceStates } from "../domain/xrdp-instance.js";
import type { HostSample, HostSampler } from "../sampling/host-sampler.js";
import type { ProcessSample, ProcessSampler } from "../sampling/process-sampler.js";
import { Ring } from "../sampling/ring.js";
import { hostView } from "./host-view.js";
import type { MetricsExporter, ServerView } from "./metrics-exporter.js";
import type { ServerSample } from "./server-sample.js";

interface ServerState {
  instanceId: string;
  latest: ServerSample;
  history: Ring<ServerSample>;
}

/** What Monitor samples, where its samples go, and how often. */
export interface MonitorOptions {
  readonly host: HostSampler;
  readonly processes: ProcessSampler;
  readonly exporter: MetricsExporter;
  /** This node's xrdp-integration; without it, only the host is sampled. */
  readonly xrdp?: XrdpIntegrationClient;
  readonly nodeId: string;
  readonly intervalMs: number;
  readonly historySamples: number;
  readonly logger: Logger;
  /** Runs after each sample (the alert evaluation). */
  readonly afterSample?: () => Promise<void>;
}

/** The sampling loop of this node's host and servers, and their recent history. */
export class Monitor {
  readonly hostHistory: Ring<HostSample>;
  private readonly servers = new Map<string, ServerState>();
  private readonly events = new EventEmitter().setMaxListeners(0);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** When sampling began, and the time of the newest sample. */
  readonly startTime = new Date();
  lastSampleTime: Date | undefined;

  constructor(private readonly opts: MonitorOptions) {
    this.hostHistory = new Ring<HostSample>(opts.historySamples);
  }

  start(): void {
    const tick = () => {
      this.running ??= this.sampleOnce()
        .catch((e: unknown) => this.opts.logger.warn({ err: e }, "sampling failed"))
        .finally(() => {
          this.running = undefined;
        });
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  get latestHost(): HostSample | undefined {
    return this.hostHistory.latest();
  }

  server(serverId: string): { latest: ServerSample; history: ServerSample[] } | undefined {
    const s = this.servers.get(serverId);
    return s ? { latest: s.latest, history: s.history.toArray() } : undefined;
  }

  serverIds(): string[] {
    return [...this.servers.keys()];
  }

  /** Every sample: host, then servers; resolves when done. */
  async sampleOnce(): Promise<void> {
    const host = this.opts.host.sample();
    this.hostHistory.push(host);
    this.lastSampleTime = new Date(host.time);
    this.opts.exporter.updateHost(hostView(host));
    if (this.opts.xrdp) {
      try {
        await this.sampleServers(host.time);
      } catch (e) {
        this.opts.logger.warn({ err: e }, "server sampling failed (xrdp-integration unreachable?)");
      }
    }
    this.events.emit("sample");
    await this.opts.afterSample?.();
  }

  private async sampleServers(time: number): Promise<void> {
    const xrdp = this.opts.xrdp as XrdpIntegrationClient;
    const instances = (await xrdp.listInstances()).filter(
      (i) =>
        i.state !== undefined && liveInstanceStates.has(i.state) && i.pid > 0 && i.serverId !== "",
    );
    // An instance's usage is xrdp's tree and its sesman's, which holds the desktops.
    const trees = this.opts.processes.trees(
      instances.flatMap((i) => (i.sesmanPid > 0 ? [i.pid, i.sesmanPid] : [i.pid])),
    );
    const samples = this.opts.processes.sample([...trees.values()].flat());
    const seen = new Set<string>();
    const views: ServerView[] = [];
    for (const inst of instances) {
      const pids = [
        ...(trees.get(inst.pid) ?? []),
        ...(inst.sesmanPid > 0 ? (trees.get(inst.sesmanPid) ?? []) : []),
      ];
      const procs = pids
        .map((p) => samples.get(p))
        .filter((p): p is ProcessSample => p !== undefined);
      const sample: ServerSample = {
        time,
        serverId: inst.serverId,
        instanceId: inst.id,
        cpuPercent: procs.reduce((a, p) => a + p.cpuPercent, 0),
        rssBytes: procs.reduce((a, p) => a + p.rssBytes, 0),
        processes: procs,
      };
      let state = this.servers.get(inst.serverId);
      if (state === undefined || state.instanceId !== inst.id) {
        state = {
          instanceId: inst.id,
          latest: sample,
          history: new Ring(this.opts.historySamples),
        };
        this.servers.set(inst.serverId, state);
      }
      state.latest = sample;
      state.history.push(sample);
      seen.add(inst.serverId);
      views.push({
        serverId: inst.serverId,
        cpuCores: sample.cpuPercent / 100,
        rssBytes: sample.rssBytes,
        processes: procs.length,
      });
    }
    for (const id of [...this.servers.keys()]) if (!seen.has(id)) this.servers.delete(id);
    this.opts.exporter.updateServers(views);
  }

  /** The current values of a metric, one per series, for the alert rules. */
  series(metric: MetricName): SeriesValue[] {
    const h = this.latestHost;
    const node = { node_id: this.opts.nodeId };
    if (h === undefined) return [];
    switch (metric) {
      case "host_cpu_usage_percent":
        return [{ labels: node, value: h.cpu.usageRatio * 100 }];
      case "host_load1":
        return [{ labels: node, value: h.load.load1 }];
      case "host_load5":
        return [{ labels: node, value: h.load.load5 }];
      case "host_load15":
        return [{ labels: node, value: h.load.load15 }];
      case "host_memory_used_percent":
        return [
          {
            labels: node,
            value: pct(h.memory.totalBytes - h.memory.availableBytes, h.memory.totalBytes),
          },
        ];
      case "host_swap_used_percent":
        return [{ labels: node, value: pct(h.memory.swapUsedBytes, h.memory.swapTotalBytes) }];
      case "host_filesystem_used_percent":
        return h.filesystems.map((f) => ({
          labels: { ...node, mount_point: f.mountPoint, device: f.device, fs_type: f.fsType },
          value: pct(f.sizeBytes - f.availableBytes, f.sizeBytes),
        }));
      case "host_disk_read_bytes_per_second":
        return h.disks.map((d) => ({
          labels: { ...node, device: d.device },
          value: d.readBytesPerSecond,
        }));
      case "host_disk_write_bytes_per_second":
        return h.disks.map((d) => ({
          labels: { ...node, device: d.device },
          value: d.writeBytesPerSecond,
        }));
      case "host_network_receive_bytes_per_second":
        return h.networkInterfaces.map((n) => ({
          labels: { ...node, interface: n.name },
          value: n.receiveBytesPerSecond,
        }));
      case "host_network_transmit_bytes_per_second":
        return h.networkInterfaces.map((n) => ({
          labels: { ...node, interface: n.name },
          value: n.transmitBytesPerSecond,
        }));
      case "server_cpu_percent":
        return [...this.servers.entries()].map(([id, s]) => ({
          labels: { ...node, server_id: id },
          value: s.latest.cpuPercent,
        }));
      case "server_memory_rss_bytes":
        return [...this.servers.entries()].map(([id, s]) => ({
          labels: { ...node, server_id: id },
          value: s.latest.rssBytes,
        }));
    }
  }

  /** Yields after every sample until `signal` aborts. */
  async *samples(signal: AbortSignal): AsyncGenerator<void> {
    try {
      for await (const _ of on(this.events, "sample", { signal })) yield;
    } catch (e) {
      if (!(e instanceof Error && e.name === "AbortError")) throw e;
    }
  }
}

function pct(part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 0;
}
