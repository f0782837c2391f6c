/** The host CPU and memory charts: GetHostMetrics history, then WatchMetrics (resource-monitor). */
import type { Client } from "@connectrpc/connect";
import type { HostMetrics, ResourceMonitorService } from "@lucid-rdp/gen";
import { createChart } from "../chart.js";
import { byId } from "../dom.js";
import { bytes, dateOf } from "../format.js";
import { live } from "../live.js";

/** Draws the two charts from the last two minutes and keeps them live, one sample a second. */
export function metricsPanel(rm: Client<typeof ResourceMonitorService>): void {
  const pct = (v: number) => `${v}%`;
  const cpu = createChart(byId("cpu-chart"), { title: "CPU (%)", format: pct, top: 100 });
  const mem = createChart(byId("mem-chart"), { title: "Memory used (%)", format: pct, top: 100 });
  const show = (m: HostMetrics) => {
    const t = dateOf(m.sampleTime)?.getTime() ?? Date.now();
    const c = m.cpu?.usagePercent ?? 0;
    cpu.push(t, c);
    byId("cpu-value").textContent = `${c.toFixed(1)}%`;
    const total = Number(m.memory?.totalBytes ?? 0n);
    const used = Number(m.memory?.usedBytes ?? 0n);
    const usedPct = total > 0 ? (100 * used) / total : 0;
    mem.push(t, usedPct);
    byId("mem-value").textContent = `${usedPct.toFixed(1)}%`;
    byId("mem-detail").textContent = `${bytes(used)} of ${bytes(total)} used`;
    const load = m.load ? ` · load ${m.load.load1.toFixed(2)}` : "";
    byId("host-name").textContent = `${m.hostname}${load} · ${m.processCount} processes`;
  };
  live("metrics", async (signal, up) => {
    // The last two minutes first, so the charts do not start empty.
    const { history, latest } = await rm.getHostMetrics(
      { window: { seconds: 120n }, maxSamples: 90 },
      { signal },
    );
    cpu.reset();
    mem.reset();
    const at = (m: HostMetrics) => dateOf(m.sampleTime)?.getTime() ?? 0;
    for (const m of [...history].sort((a, b) => at(a) - at(b))) show(m);
    if (history.length === 0 && latest) show(latest);
    up();
    for await (const r of rm.watchMetrics({ interval: { seconds: 1n } }, { signal })) {
      up();
      if (r.host) show(r.host);
    }
  });
}
