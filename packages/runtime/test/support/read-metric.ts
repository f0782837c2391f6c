/** Reads one sample of a server's /metrics, for tests of the RPC metrics. */

/** The value of the sample `name{labels}` on `url`/metrics; 0 when it is absent. */
export async function readMetric(
  url: string,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return metricValue(text, name, labels);
}

/** The value of the sample `name{labels}` in a Prometheus text exposition; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const seen = new Map(
      [...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => seen.get(k) === v)) return Number(m[3]);
  }
  return 0;
}
