/**
 * One sampler of the sampling-cost benchmark, alone in its process so that process.cpuUsage()
 * (user + system time of every thread, libuv's pool included) counts nothing else:
 * `sampler-worker.ts ours|pidusage <ticks> <pid,pid,...>`. Samples the pids once a second,
 * `ticks` times, and prints one JSON line with the CPU time of each tick in microseconds.
 */

import { ProcessSampler } from "@lucid-rdp/resource-monitor";
import pidusage from "pidusage";

const [impl, ticksArg, pidsArg] = process.argv.slice(2);
const ticks = Number(ticksArg);
const pids = (pidsArg ?? "").split(",").map(Number);
if ((impl !== "ours" && impl !== "pidusage") || !(ticks > 0) || pids.some((p) => !(p > 0))) {
  process.stderr.write("usage: sampler-worker.ts ours|pidusage <ticks> <pid,pid,...>\n");
  process.exit(2);
}

const sampler = new ProcessSampler();
/** One sample of every pid; the number of pids sampled. */
const sampleOnce = async (): Promise<number> => {
  if (impl === "ours") return sampler.sample(pids).size;
  return Object.keys(await pidusage(pids)).length;
};

const cpuUs: number[] = [];
const wallUs: number[] = [];
const sampled: number[] = [];
const start = performance.now();
for (let i = 0; i < ticks; i++) {
  // 1 Hz, on a fixed schedule from the start.
  const due = start + i * 1000;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const before = process.cpuUsage();
  const t0 = performance.now();
  sampled.push(await sampleOnce());
  wallUs.push((performance.now() - t0) * 1000);
  const used = process.cpuUsage(before);
  cpuUs.push(used.user + used.system);
}
process.stdout.write(`${JSON.stringify({ impl, n: pids.length, cpuUs, wallUs, sampled })}\n`);
