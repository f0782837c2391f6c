/**
 * The metrics an alert rule may watch: exactly the values of AlertMetric in
 * proto/lucid/rdp/v1/alert.proto, with their unit and the labels their series carry. A metric's
 * domain name is the proto enum value's name without the `ALERT_METRIC_` prefix, in lower case
 * (`ALERT_METRIC_HOST_LOAD1` is `host_load1`); src/service/enum-mappings.ts maps one to the other
 * with explicit tables.
 *
 * Host-wide metrics have one series and no labels; the others have one series per filesystem,
 * block device, network interface or server, told apart by their labels.
 */

/** The name of a metric an alert rule may watch. */
export type MetricName =
  | "host_cpu_usage_percent"
  | "host_load1"
  | "host_load5"
  | "host_load15"
  | "host_memory_used_percent"
  | "host_swap_used_percent"
  | "host_filesystem_used_percent"
  | "host_disk_read_bytes_per_second"
  | "host_disk_write_bytes_per_second"
  | "host_network_receive_bytes_per_second"
  | "host_network_transmit_bytes_per_second"
  | "server_cpu_percent"
  | "server_memory_rss_bytes";

/**
 * The unit of a metric's values (and so of a rule's threshold). `percent` is 0 to 100, except for
 * `server_cpu_percent`, which is percent of one core and may exceed 100; `load` is the kernel's
 * run-queue load average, without unit.
 */
export type MetricUnit = "percent" | "load" | "bytes" | "bytes_per_second";

/** What the catalog knows of one metric. */
export interface MetricDefinition {
  readonly name: MetricName;
  readonly unit: MetricUnit;
  /** The labels its series carry, and so the only labels a selector may name; sorted. */
  readonly labels: readonly string[];
  /** Whether the metric has one series per labelled thing (true) or one host-wide series. */
  readonly perSeries: boolean;
  /** One line for people, from the proto. */
  readonly description: string;
}

/** One value of one series of a metric at one sample. */
export interface SeriesValue {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const host: readonly string[] = [];
const filesystem: readonly string[] = ["device", "fs_type", "mount_point"];
const blockDevice: readonly string[] = ["device"];
const networkInterface: readonly string[] = ["interface"];
const server: readonly string[] = ["node_id", "server_id"];

function metric(
  name: MetricName,
  unit: MetricUnit,
  labels: readonly string[],
  description: string,
): MetricDefinition {
  return Object.freeze({ name, unit, labels, perSeries: labels.length > 0, description });
}

/** Every metric, by name. */
export const metricCatalog: { readonly [N in MetricName]: MetricDefinition } = Object.freeze({
  host_cpu_usage_percent: metric(
    "host_cpu_usage_percent",
    "percent",
    host,
    "The host's CPU busy time, 0 to 100.",
  ),
  host_load1: metric("host_load1", "load", host, "The 1-minute load average."),
  host_load5: metric("host_load5", "load", host, "The 5-minute load average."),
  host_load15: metric("host_load15", "load", host, "The 15-minute load average."),
  host_memory_used_percent: metric(
    "host_memory_used_percent",
    "percent",
    host,
    "Memory in use over total memory, 0 to 100.",
  ),
  host_swap_used_percent: metric(
    "host_swap_used_percent",
    "percent",
    host,
    "Swap in use over total swap, 0 to 100 (0 without swap).",
  ),
  host_filesystem_used_percent: metric(
    "host_filesystem_used_percent",
    "percent",
    filesystem,
    "Space in use per filesystem, 0 to 100.",
  ),
  host_disk_read_bytes_per_second: metric(
    "host_disk_read_bytes_per_second",
    "bytes_per_second",
    blockDevice,
    "Bytes read per second per block device.",
  ),
  host_disk_write_bytes_per_second: metric(
    "host_disk_write_bytes_per_second",
    "bytes_per_second",
    blockDevice,
    "Bytes written per second per block device.",
  ),
  host_network_receive_bytes_per_second: metric(
    "host_network_receive_bytes_per_second",
    "bytes_per_second",
    networkInterface,
    "Bytes received per second per interface.",
  ),
  host_network_transmit_bytes_per_second: metric(
    "host_network_transmit_bytes_per_second",
    "bytes_per_second",
    networkInterface,
    "Bytes sent per second per interface.",
  ),
  server_cpu_percent: metric(
    "server_cpu_percent",
    "percent",
    server,
    "The CPU of one server's process tree, in percent of one core.",
  ),
  server_memory_rss_bytes: metric(
    "server_memory_rss_bytes",
    "bytes",
    server,
    "The resident memory of one server's process tree, in bytes.",
  ),
});

/** Every metric name, in the order of the proto enum. */
export const metricNames: readonly MetricName[] = Object.freeze(
  Object.keys(metricCatalog) as MetricName[],
);

/** Whether `name` is a metric of the catalog. */
export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(metricCatalog, name);
}

/** The metric called `name`, or undefined when the catalog has none. */
export function findMetric(name: string): MetricDefinition | undefined {
  return isMetricName(name) ? metricCatalog[name] : undefined;
}
