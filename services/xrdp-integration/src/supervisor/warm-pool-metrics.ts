/** The warm pool on /metrics: its target, and how many warm instances are READY and starting. */
import { Gauge, type Registry } from "prom-client";
import type { WarmPoolStatus } from "./warm-pool.js";

/** Registers the pool's gauges on `registry`, read from `status` at each scrape. */
export function registerPoolMetrics(registry: Registry, status: () => WarmPoolStatus): void {
  const gauges = [
    [
      "lucid_warm_pool_target",
      "Warm instances the node keeps (WARM_POOL_SIZE; 0 while draining)",
      "target",
    ],
    ["lucid_warm_pool_ready", "Warm instances READY to be handed out", "ready"],
    ["lucid_warm_pool_starting", "Warm instances being started", "starting"],
  ] as const;
  for (const [name, help, field] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(status()[field]);
      },
    });
  }
}
