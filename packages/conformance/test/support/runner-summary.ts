/**
 * Condenses connectconformance's output: one line per failing test case (suite and case name,
 * how many permutations failed, the first reason given), then the runner's closing counts.
 */

/** Groups the runner's `FAILED:` blocks by test case and appends its totals. */
export function runnerSummary(output: string): string {
  const lines = output.split("\n");
  const failures = new Map<string, { count: number; reason: string }>();
  lines.forEach((line, i) => {
    const m = /^FAILED: ([^/]+)\/.*?(?:TLS:(?:true|false))(?:\/\(grpc client impl\))?\/(.+):$/.exec(
      line,
    );
    if (m === null) return;
    const key = `${m[1]} | ${m[2]}`;
    const seen = failures.get(key);
    if (seen !== undefined) seen.count++;
    else failures.set(key, { count: 1, reason: (lines[i + 1] ?? "").trim() });
  });
  const grouped = [...failures]
    .sort(([, a], [, b]) => b.count - a.count)
    .map(([key, { count, reason }]) => `  ${count} x ${key}: ${reason}`);
  const totals = lines.filter((l) => /^(Total cases|\d+ passed|\(\d+ failed as expected)/.test(l));
  return [...grouped, ...totals].join("\n");
}
