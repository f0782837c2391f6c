/**
 * Registers this xrdp-integration with server-manager as a node (RegisterNode) and keeps its lease
 * alive: one call at start, then one per heartbeat interval (what the response asks for, else a
 * third of the lease TTL). A failed call is logged once per outage and retried at the next tick;
 * the heartbeat never throws. On stop, a last call reports the node as not serving, so placement
 * skips it at once instead of when the lease lapses.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  EndpointSchema,
  PortRangeSchema,
  type RegisterNodeRequest,
  RegisterNodeRequestSchema,
  ServerManagerService,
} from "@lucid-rdp/gen";
import { createMeshClient, type HealthReport, type Logger } from "@lucid-rdp/runtime";

/** What the node reports about itself on every heartbeat, apart from its health. */
export interface NodeRegistration {
  /** The node's id (NODE_ID): a DNS label. */
  readonly nodeId: string;
  /** The host server-manager reaches this service's API on. */
  readonly advertiseHost: string;
  /** The port this service's API is bound to. */
  readonly apiPort: number;
  /** The host RDP clients connect to. */
  readonly rdpHost: string;
  /** The most servers (xrdp instances) the node may hold at once. */
  readonly maxServers: number;
  /** The ports servers on the node may use, inclusive. */
  readonly portRange: { readonly start: number; readonly end: number };
  readonly labels: Readonly<Record<string, string>>;
  /** How long the lease lasts unless renewed. */
  readonly leaseTtlMs: number;
  /** The installed xrdp version, or undefined when xrdp is missing. */
  readonly xrdpVersion?: string;
}

/** The node's health at the time of a heartbeat. */
export interface NodeStatus {
  readonly serving: boolean;
  /** Why the node is not serving; ignored while serving. */
  readonly message?: string;
}

/** The most characters `status_message` may hold (the contract's max_len). */
export const statusMessageMaxChars = 256;
const xrdpVersionPattern = /^[A-Za-z0-9._+~-]{0,64}$/;

/**
 * Makes `s` fit the contract's `status_message`: control characters (C0, DEL, C1) become spaces
 * and the text is cut to 256 characters (code points, as protovalidate counts them).
 */
export function toStatusMessage(s: string): string {
  const chars = Array.from(s, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x20 || (n >= 0x7f && n <= 0x9f) ? " " : c;
  });
  if (chars.length <= statusMessageMaxChars) return chars.join("");
  return `${chars.slice(0, statusMessageMaxChars - 1).join("")}…`;
}

/** The failing checks of a health report, as one line ("xrdp: not installed; redis: ..."). */
export function describeFailingChecks(report: HealthReport): string {
  const failing = Object.entries(report.checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.error ?? "failing"}`);
  if (report.shuttingDown) failing.unshift("shutting down");
  return failing.join("; ");
}

/** Builds one heartbeat's RegisterNodeRequest. Pure: same inputs, same request. */
export function buildRegisterNodeRequest(
  node: NodeRegistration,
  status: NodeStatus,
): RegisterNodeRequest {
  const version = node.xrdpVersion ?? "";
  return create(RegisterNodeRequestSchema, {
    nodeId: node.nodeId,
    address: create(EndpointSchema, { host: node.advertiseHost, port: node.apiPort }),
    rdpHost: node.rdpHost,
    maxServers: node.maxServers,
    portRange: create(PortRangeSchema, { start: node.portRange.start, end: node.portRange.end }),
    labels: { ...node.labels },
    leaseTtl: durationFromMs(node.leaseTtlMs),
    serving: status.serving,
    statusMessage: status.serving
      ? ""
      : toStatusMessage(
          status.message === undefined || status.message === "" ? "not serving" : status.message,
        ),
    xrdpVersion: xrdpVersionPattern.test(version) ? version : "",
  });
}

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
  readonly node: NodeRegistration;
  /** Whether the service's health report is SERVING now. */
  readonly serving: () => boolean;
  /** Why the service is not serving (its failing checks). @default "not serving" */
  readonly statusMessage?: () => string;
  readonly logger: Pick<Logger, "info" | "warn" | "debug">;
  /** Deadline of each RegisterNode call, retries included. @default 3000 */
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
  private readonly client: Client<typeof ServerManagerService>;
  /** Cancels the scheduled heartbeat; undefined while none is scheduled. */
  private cancelTimer: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private intervalMs: number;
  private started = false;
  private stopped = false;
  private failing = false;
  private registered = false;

  constructor(private readonly opts: NodeHeartbeatOptions) {
    this.client = createMeshClient(ServerManagerService, {
      baseUrl: opts.baseUrl,
      deadlineMs: opts.deadlineMs ?? 3_000,
      token: opts.token,
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
    const request = buildRegisterNodeRequest(this.opts.node, {
      serving: false,
      message: "shutting down",
    });
    try {
      await this.client.registerNode(request, {
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
        this.cancelTimer = schedule(() => this.tick(), this.intervalMs);
      }
    });
  }

  private async beat(): Promise<void> {
    const { node, logger } = this.opts;
    let request: RegisterNodeRequest;
    try {
      const serving = this.opts.serving();
      request = buildRegisterNodeRequest(node, {
        serving,
        message: serving ? undefined : this.opts.statusMessage?.(),
      });
    } catch (e) {
      logger.warn({ err: e }, "could not build the node heartbeat");
      return;
    }
    try {
      const res = await this.client.registerNode(request, { signal: this.abort.signal });
      if (res.heartbeatInterval !== undefined) {
        this.intervalMs = Math.min(
          Math.max(durationMs(res.heartbeatInterval), this.opts.minIntervalMs ?? 50),
          300_000,
        );
      }
      if (this.failing) {
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
      this.registered = true;
    } catch (e) {
      if (this.stopped) return;
      if (!this.failing) {
        logger.warn(
          {
            err: e,
            nodeId: node.nodeId,
            serverManager: this.opts.baseUrl,
            retryInMs: this.intervalMs,
          },
          "node heartbeat failed: retrying at each interval until server-manager answers",
        );
      }
      this.failing = true;
    }
  }
}
