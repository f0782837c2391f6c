/**
 * Registers this xrdp-integration with server-manager as a node (RegisterNode) and keeps its lease
 * alive: one call at start, then one per heartbeat interval (what the response asks for, else a
 * third of the lease TTL). A failed call is logged once per outage, without a stack, and retried
 * with a short backoff (100 ms doubling, at most 2 s or the interval), so the node registers as
 * soon as server-manager answers, e.g. when both start together; the heartbeat never throws. On stop, a last call reports the node as not serving, so placement
 * skips it at once instead of when the lease lapses.
 */
import type { HealthReport, Logger } from "@lucid-rdp/runtime";
import {
  createServerManagerClient,
  type NodeHeartbeatAnswer,
  type ServerManagerClient,
} from "../clients/index.js";
import type { NodeRegistration, NodeStatus } from "../domain/node-registration.js";

export {
  buildRegisterNodeRequest,
  statusMessageMaxChars,
  toStatusMessage,
} from "../clients/register-node-request.js";
export type { NodeRegistration, NodeStatus } from "../domain/node-registration.js";

/** The failing checks of a health report, as one line ("xrdp: not installed; redis: ..."). */
export function describeFailingChecks(report: HealthReport): string {
  const failing = Object.entries(report.checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.error ?? "failing"}`);
  if (report.shuttingDown) failing.unshift("shutting down");
  return failing.join("; ");
}

/** The longest wait between two attempts while calls fail. */
const retryMaxMs = 2_000;

/** Calls `fn` once after `ms` milliseconds; returns a function that cancels the call. */
export type ScheduleTimer = (fn: () => void, ms: number) => () => void;

/** setTimeout, unref'd: a pending heartbeat does not keep the process alive. */
const scheduleTimeout: ScheduleTimer = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/** Options of {@link NodeHeartbeat}. */
export interface NodeHeartbeatOptions {
  /** server-manager's base URL (SERVER_MANAGER_URL). */
  readonly baseUrl: string;
  /** A bearer token with the service role, when server-manager requires auth (MESH_TOKEN). */
  readonly token?: string;
  /**
   * server-manager; tests pass a fake.
   * @default the Connect client of `baseUrl`, with `token` and `deadlineMs`
   */
  readonly client?: ServerManagerClient;
  readonly node: NodeRegistration;
  /** Whether the service's health report is SERVING now. */
  readonly serving: () => boolean;
  /** Why the service is not serving (its failing checks). @default "not serving" */
  readonly statusMessage?: () => string;
  /** The warm pool's state, sent with each heartbeat. @default none */
  readonly warmPool?: () => { readonly target: number; readonly ready: number };
  /** Told what each answer said (the warm pool follows `draining`). */
  readonly onAnswer?: (answer: NodeHeartbeatAnswer) => void;
  readonly logger: Pick<Logger, "info" | "warn" | "debug">;
  /** Deadline of each RegisterNode call, retries included (unused with `client`). @default 3000 */
  readonly deadlineMs?: number;
  /** Deadline of the last call made by stop(). @default 1000 */
  readonly farewellDeadlineMs?: number;
  /** Shortest wait between calls, whatever the response asks. @default 50 */
  readonly minIntervalMs?: number;
  /**
   * Schedules the next heartbeat; tests pass a controllable clock.
   * @default setTimeout, unref'd
   */
  readonly schedule?: ScheduleTimer;
}

/** Keeps this node registered with server-manager while the service runs. */
export class NodeHeartbeat {
  private readonly client: ServerManagerClient;
  /** Cancels the scheduled heartbeat; undefined while none is scheduled. */
  private cancelTimer: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private intervalMs: number;
  private started = false;
  private stopped = false;
  private failing = false;
  private registered = false;
  /** Calls failed in a row; the next retry waits the backoff they add up to. */
  private failures = 0;

  constructor(private readonly opts: NodeHeartbeatOptions) {
    this.client =
      opts.client ??
      createServerManagerClient({
        baseUrl: opts.baseUrl,
        token: opts.token,
        deadlineMs: opts.deadlineMs ?? 3_000,
      });
    this.intervalMs = Math.floor(opts.node.leaseTtlMs / 3);
  }

  /** Sends the first heartbeat now and the next ones at the interval. Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.tick();
  }

  /** Whether the last call succeeded (false before the first one answered). */
  get isRegistered(): boolean {
    return this.registered && !this.failing;
  }

  /**
   * Ends the heartbeat: cancels the pending call and, if the node had registered, reports it once
   * more as not serving (best effort, short deadline). Resolves when nothing is left in flight.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTimer?.();
    this.abort.abort();
    await this.inFlight;
    if (!this.registered) return;
    const status: NodeStatus = { serving: false, message: "shutting down" };
    try {
      await this.client.registerNode(this.opts.node, status, {
        timeoutMs: this.opts.farewellDeadlineMs ?? 1_000,
      });
      this.opts.logger.info({ nodeId: this.opts.node.nodeId }, "reported node as shutting down");
    } catch (e) {
      this.opts.logger.debug({ err: e }, "last heartbeat failed; the lease will lapse");
    }
  }

  private tick(): void {
    this.cancelTimer = undefined;
    if (this.stopped) return;
    this.inFlight = this.beat().finally(() => {
      this.inFlight = undefined;
      if (!this.stopped) {
        const schedule = this.opts.schedule ?? scheduleTimeout;
        this.cancelTimer = schedule(() => this.tick(), this.nextDelayMs());
      }
    });
  }

  /** The interval, or while calls fail, a backoff of 100 ms doubling up to 2 s (or the interval). */
  private nextDelayMs(): number {
    if (this.failures === 0) return this.intervalMs;
    return Math.min(100 * 2 ** (this.failures - 1), retryMaxMs, this.intervalMs);
  }

  private async beat(): Promise<void> {
    const { node, logger } = this.opts;
    let status: NodeStatus;
    try {
      const serving = this.opts.serving();
      status = {
        serving,
        message: serving ? undefined : this.opts.statusMessage?.(),
        ...(this.opts.warmPool && { warmPool: this.opts.warmPool() }),
      };
    } catch (e) {
      logger.warn({ err: e }, "could not build the node heartbeat");
      return;
    }
    try {
      const res = await this.client.registerNode(node, status, { signal: this.abort.signal });
      this.opts.onAnswer?.(res);
      if (res.heartbeatIntervalMs !== undefined) {
        this.intervalMs = Math.min(
          Math.max(res.heartbeatIntervalMs, this.opts.minIntervalMs ?? 50),
          300_000,
        );
      }
      if (this.failing && this.registered) {
        logger.info(
          { nodeId: node.nodeId },
          "node heartbeat recovered: registered with server-manager",
        );
      } else if (!this.registered) {
        logger.info(
          { nodeId: node.nodeId, serverManager: this.opts.baseUrl, heartbeatMs: this.intervalMs },
          "registered with server-manager",
        );
      }
      this.failing = false;
      this.failures = 0;
      this.registered = true;
    } catch (e) {
      if (this.stopped) return;
      this.failures++;
      if (!this.registered && !this.failing) {
        // Starting together with server-manager: one plain line, then quiet retries.
        logger.warn(
          { nodeId: node.nodeId, error: e instanceof Error ? e.message : String(e) },
          `server-manager not reachable yet at ${this.opts.baseUrl}; retrying`,
        );
      } else if (!this.failing) {
        logger.warn(
          {
            err: e,
            nodeId: node.nodeId,
            serverManager: this.opts.baseUrl,
          },
          "node heartbeat failed: retrying until server-manager answers",
        );
      }
      this.failing = true;
    }
  }
}
