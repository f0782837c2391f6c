/** The door's Prometheus metrics, registered on the service's registry (its /metrics). */
import { Counter, Gauge, type Registry } from "prom-client";
import type { DoorRefusalReason } from "./door-types.js";

/** Every refusal reason, so each series exists (at 0) from the start. */
export const refusalReasons: readonly DoorRefusalReason[] = [
  "missing",
  "unknown",
  "ended",
  "malformed",
  "timeout",
  "rate",
  "upstream",
];

/** The door's metrics; the gauge and byte counter read the door's table when scraped. */
export interface DoorMetrics {
  readonly refused: Counter<"reason">;
  readonly connections: Counter;
  readonly bytes: Counter<"direction">;
}

/**
 * Registers `lucid_rdp_door_refused_total{reason}`, `lucid_rdp_door_connections_total`,
 * `lucid_rdp_door_connections_open` (from `openNow`) and `lucid_rdp_door_bytes_total{direction}`
 * (`from_client`, `to_client`; `collectBytes` adds what moved since the last scrape).
 */
export function createDoorMetrics(
  registry: Registry,
  openNow: () => number,
  collectBytes: (bytes: Counter<"direction">) => void,
): DoorMetrics {
  const refused = new Counter({
    name: "lucid_rdp_door_refused_total",
    help: "RDP connections the front door refused, by reason: missing, unknown, ended, malformed, timeout, rate, upstream.",
    labelNames: ["reason"],
    registers: [registry],
  });
  for (const reason of refusalReasons) refused.inc({ reason }, 0);
  const connections = new Counter({
    name: "lucid_rdp_door_connections_total",
    help: "RDP connections the front door relayed to an xrdp.",
    registers: [registry],
  });
  new Gauge({
    name: "lucid_rdp_door_connections_open",
    help: "RDP connections the front door is relaying now.",
    registers: [registry],
    collect() {
      this.set(openNow());
    },
  });
  const bytes: Counter<"direction"> = new Counter({
    name: "lucid_rdp_door_bytes_total",
    help: "Bytes the front door relayed, by direction: from_client, to_client.",
    labelNames: ["direction"],
    registers: [registry],
    collect() {
      collectBytes(bytes);
    },
  });
  bytes.inc({ direction: "from_client" }, 0);
  bytes.inc({ direction: "to_client" }, 0);
  return { refused, connections, bytes };
}
