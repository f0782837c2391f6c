import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findMetric, isMetricName, metricCatalog, metricNames } from "./metrics-catalog.js";

describe("metricCatalog", () => {
  it("has exactly the metrics of AlertMetric in the proto, in its order", () => {
    const proto = readFileSync(
      new URL("../../../../proto/lucid/rdp/v1/alert.proto", import.meta.url),
      "utf8",
    );
    const values = [...proto.matchAll(/^\s*ALERT_METRIC_([A-Z0-9_]+) = \d+;/gm)]
      .map((m) => (m[1] ?? "").toLowerCase())
      .filter((name) => name !== "unspecified");
    expect(metricNames).toEqual(values);
  });

  it("gives host-wide metrics no labels and per-series metrics the labels of the proto", () => {
    expect(metricCatalog.host_cpu_usage_percent).toMatchObject({
      labels: [],
      perSeries: false,
      unit: "percent",
    });
    expect(metricCatalog.host_load1).toMatchObject({ labels: [], perSeries: false, unit: "load" });
    expect(metricCatalog.host_filesystem_used_percent).toMatchObject({
      labels: ["device", "fs_type", "mount_point"],
      perSeries: true,
      unit: "percent",
    });
    expect(metricCatalog.host_disk_read_bytes_per_second.labels).toEqual(["device"]);
    expect(metricCatalog.host_network_transmit_bytes_per_second).toMatchObject({
      labels: ["interface"],
      unit: "bytes_per_second",
    });
    expect(metricCatalog.server_memory_rss_bytes).toMatchObject({
      labels: ["node_id", "server_id"],
      perSeries: true,
      unit: "bytes",
    });
  });

  it("keys every definition by its own name", () => {
    for (const name of metricNames) expect(metricCatalog[name].name).toBe(name);
  });
});

describe("findMetric()", () => {
  it("finds known metrics and nothing else", () => {
    expect(findMetric("server_cpu_percent")?.unit).toBe("percent");
    expect(findMetric("host_cpu_ratio")).toBeUndefined();
    expect(findMetric("toString")).toBeUndefined();
    expect(isMetricName("constructor")).toBe(false);
  });
});
