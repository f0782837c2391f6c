import type { BenchmarkOutput } from "../lib/report.js";
export async function runColdStart(_opts: { quick: boolean }): Promise<BenchmarkOutput> {
  throw new Error("not written yet");
}
