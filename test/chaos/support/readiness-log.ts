/**
 * A log of every mesh service's /readyz, polled every 200 ms for the whole scenario, and the
 * checks of issue 15 on it: while a backend is down, the services that need it answer /readyz 503
 * within one health interval, and answer 200 again by themselves once it is back.
 */
import type { ChildServer, Mesh } from "@lucid-rdp/testing";

/** One poll of one service: the HTTP status, or 0 when it did not answer within a second. */
export interface ReadySample {
  readonly t: number;
  readonly status: number;
}

/** The services of the mesh by the names the reports use, as they run right now. */
export function meshServices(mesh: Mesh): { name: string; server: ChildServer }[] {
  return [
    ...mesh.serverManagers.map((server, i) => ({ name: `server-manager #${i}`, server })),
    ...mesh.sessionControllers.map((server, i) => ({ name: `session-controller #${i}`, server })),
    ...mesh.nodes.map((n) => ({ name: `xrdp-integration ${n.nodeId}`, server: n.server })),
  ];
}

/** GET /readyz: its status, or 0 when it did not answer within `timeoutMs`. */
export async function readyzStatus(url: string, timeoutMs = 1_000): Promise<number> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls every service's /readyz until stopped; `samples` maps a service name to its polls. */
export class ReadinessLog {
  readonly samples = new Map<string, ReadySample[]>();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly mesh: Mesh) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const next = new Promise((r) => setTimeout(r, 200));
      await Promise.all(
        meshServices(this.mesh).map(async ({ name, server }) => {
          const t = Date.now();
          const status = await readyzStatus(server.url);
          const list = this.samples.get(name) ?? [];
          list.push({ t, status });
          this.samples.set(name, list);
        }),
      );
      await next;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /**
   * The readiness violations of a backend outage from `down` to `up` (Date.now() values) for the
   * services named: each must leave 200 within `healthIntervalMs` (plus one poll and one probe of
   * slack) and be back at 200, for good, within `recoverMs` of `up`.
   */
  outageViolations(opts: {
    readonly backend: string;
    readonly down: number;
    readonly up: number;
    readonly services: readonly string[];
    readonly healthIntervalMs: number;
    readonly recoverMs: number;
    /** Where times are counted from in the messages. */
    readonly t0: number;
  }): string[] {
    const out: string[] = [];
    const slackMs = 1_200;
    const rel = (t: number) => `t+${((t - opts.t0) / 1000).toFixed(1)} s`;
    for (const name of opts.services) {
      const list = this.samples.get(name) ?? [];
      const during = list.filter((s) => s.t >= opts.down && s.t < opts.up);
      const firstNotReady = during.find((s) => s.status !== 200);
      if (firstNotReady === undefined) {
        out.push(
          `${name} /readyz stayed 200 the whole time ${opts.backend} was down (${rel(opts.down)} to ${rel(opts.up)}, ${during.length} polls)`,
        );
      } else if (firstNotReady.t - opts.down > opts.healthIntervalMs + slackMs) {
        out.push(
          `${name} /readyz still 200 ${((firstNotReady.t - opts.down) / 1000).toFixed(1)} s after ${opts.backend} went down (health interval ${opts.healthIntervalMs / 1000} s), then ${firstNotReady.status || "no answer"}`,
        );
      } else if (firstNotReady.status === 0) {
        out.push(
          `${name} /readyz did not answer at all while ${opts.backend} was down (${rel(firstNotReady.t)}): a 503 was due`,
        );
      }
      const after = list.filter((s) => s.t >= opts.up);
      const lastBad = [...after].reverse().find((s) => s.status !== 200);
      const last = after[after.length - 1];
      if (last === undefined || last.status !== 200) {
        out.push(
          `${name} /readyz not back to 200 after ${opts.backend} came back at ${rel(opts.up)} (last poll ${last ? `${rel(last.t)}: ${last.status || "no answer"}` : "none"})`,
        );
      } else if (lastBad !== undefined && lastBad.t - opts.up > opts.recoverMs) {
        out.push(
          `${name} /readyz back to 200 only ${((lastBad.t - opts.up) / 1000).toFixed(1)} s after ${opts.backend} came back (allowed ${opts.recoverMs / 1000} s)`,
        );
      }
    }
    return out;
  }
}
