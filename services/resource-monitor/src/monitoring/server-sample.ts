/** One sample of one server: its processes on this node, summed. */
import type { ProcessSample } from "../sampling/process-sampler.js";

/** The usage of one server's process trees (its xrdp's and its sesman's) at one sample. */
export interface ServerSample {
  readonly time: number;
  readonly serverId: string;
  readonly instanceId: string;
  /** Percent of one core, summed over the server's processes. */
  readonly cpuPercent: number;
  readonly rssBytes: number;
  readonly processes: readonly ProcessSample[];
}
