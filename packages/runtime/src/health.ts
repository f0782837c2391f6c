/**
 * Health that reflects reality: named dependency checks (a Mongo ping, a Redis PING, xrdp found on
 * disk...) run at an interval; a service is SERVING only while every check passes and shutdown has
 * not begun. Served as grpc.health.v1 (Check, Watch, List) and over HTTP (/health, /livez, /readyz).
 */
import { EventEmitter, on } from "node:events";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "./gen/grpc/health/v1/health_pb.js";
import type { Logger } from "./logger.js";

export { ServingStatus };

/** A dependency the service needs; `check` rejects when the dependency is unusable. */
export interface DependencyCheck {
  readonly name: string;
  readonly check: (signal: AbortSignal) => Promise<void>;
  /** @default 2000 */
  readonly timeoutMs?: number;
  /**
   * Subscribes to the dependency's own signals (a driver's connection events): the monitor runs
   * this check again at once whenever `changed` is called, between the interval's runs, so
   * readiness follows an outage as soon as the driver sees it. Returns the unsubscriber.
   */
  readonly watch?: (changed: () => void) => () => void;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly checkedAt: string;
}

export interface HealthReport {
  readonly status: "SERVING" | "NOT_SERVING";
  readonly shuttingDown: boolean;
  readonly checks: Readonly<Record<string, CheckResult>>;
}

export interface HealthMonitorOptions {
  /** Fully-qualified names of the services served; "" (the whole server) is always known. */
  readonly services: readonly string[];
  readonly checks?: readonly DependencyCheck[];
  /** @default 5000 */
  readonly intervalMs?: number;
  readonly logger: Logger;
}

/** Tracks serving status from dependency checks and shutdown. */
export class HealthMonitor {
  private readonly services: Set<string>;
  private readonly checks: readonly DependencyCheck[];
  private readonly results = new Map<string, CheckResult>();
  private readonly events = new EventEmitter();
  private shuttingDown = false;
  private timer: NodeJS.Timeout | undefined;
  private serving = false;
  private readonly stopped = new AbortController();
  private readonly unwatch: Array<() => void> = [];
  private readonly rerun = new Map<string, { running: boolean; again: boolean }>();
  private readonly started = new Map<string, number>();
  private readonly settled = new Map<string, number>();

  constructor(private readonly opts: HealthMonitorOptions) {
    this.services = new Set(["", ...opts.services]);
    this.checks = opts.checks ?? [];
    this.events.setMaxListeners(0);
  }

  /** Runs the checks once, then at the interval. */
  async start(): Promise<void> {
    for (const c of this.checks) {
      if (c.watch !== undefined) this.unwatch.push(c.watch(() => this.recheck(c)));
    }
    await this.runChecks();
    this.timer = setInterval(() => {
      this.runChecks().catch((e: unknown) => this.opts.logger.error({ err: e }, "health checks"));
    }, this.opts.intervalMs ?? 5000);
    this.timer.unref();
  }

  /** Runs every check now and updates the status. */
  async runChecks(): Promise<void> {
    await Promise.all(this.checks.map((c) => this.runCheck(c)));
    this.update();
  }

  /** Runs one check now, on its dependency's signal; coalesces signals while it runs. */
  private recheck(c: DependencyCheck): void {
    if (this.shuttingDown) return;
    let state = this.rerun.get(c.name);
    if (state === undefined) {
      state = { running: false, again: false };
      this.rerun.set(c.name, state);
    }
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = true;
    const s = state;
    const loop = async () => {
      do {
        s.again = false;
        await this.runCheck(c);
        this.update();
      } while (s.again && !this.shuttingDown);
      s.running = false;
    };
    loop().catch((e: unknown) => this.opts.logger.error({ err: e }, "health check"));
  }

  private async runCheck(c: DependencyCheck): Promise<void> {
    // A run that started earlier (an interval's, racing a driver signal) never overwrites a later one.
    const seq = (this.started.get(c.name) ?? 0) + 1;
    this.started.set(c.name, seq);
    const signal = AbortSignal.any([AbortSignal.timeout(c.timeoutMs ?? 2000), this.stopped.signal]);
    let result: CheckResult;
    try {
      await c.check(signal);
      result = { ok: true, checkedAt: new Date().toISOString() };
    } catch (e) {
      result = {
        ok: false,
        error: e instanceof Error ? e.message : String(e),
        checkedAt: new Date().toISOString(),
      };
    }
    if ((this.settled.get(c.name) ?? 0) > seq) return;
    this.settled.set(c.name, seq);
    const before = this.results.get(c.name);
    if (before?.ok !== result.ok) {
      this.opts.logger[result.ok ? "info" : "warn"](
        { check: c.name, ok: result.ok, error: result.error },
        "dependency check changed",
      );
    }
    this.results.set(c.name, result);
  }

  /** Marks everything NOT_SERVING for good and ends every Watch. */
  beginShutdown(): void {
    this.shuttingDown = true;
    this.update();
    this.stopped.abort();
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const u of this.unwatch.splice(0)) u();
  }

  /** The status of one service, or undefined when the service is not served here. */
  status(service: string): ServingStatus | undefined {
    if (!this.services.has(service)) return undefined;
    return this.serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  /** The service names this monitor answers for ("" is the whole server). */
  serviceNames(): string[] {
    return [...this.services];
  }

  report(): HealthReport {
    return {
      status: this.serving ? "SERVING" : "NOT_SERVING",
      shuttingDown: this.shuttingDown,
      checks: Object.fromEntries(this.results),
    };
  }

  /** The statuses of `service` now and at every change, until shutdown or `signal`. */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    let last = this.status(service) ?? ServingStatus.SERVICE_UNKNOWN;
    yield last;
    if (this.shuttingDown) return;
    const both = AbortSignal.any([signal, this.stopped.signal]);
    try {
      for await (const _ of on(this.events, "change", { signal: both })) {
        const now = this.status(service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (now !== last) {
          last = now;
          yield now;
        }
      }
    } catch (e) {
      if (!(e instanceof Error && e.name === "AbortError")) throw e;
    }
    // Shutdown sends its final NOT_SERVING before the stream ends.
    const final = this.status(service) ?? ServingStatus.SERVICE_UNKNOWN;
    if (this.shuttingDown && final !== last) yield final;
  }

  private update(): void {
    const allOk = [...this.results.values()].every((r) => r.ok);
    const serving = allOk && !this.shuttingDown;
    if (serving !== this.serving) {
      this.serving = serving;
      this.events.emit("change");
    } else if (this.shuttingDown) {
      this.events.emit("change");
    }
  }
}

/** Registers grpc.health.v1.Health backed by `monitor`. */
export function healthRoutes(monitor: HealthMonitor): (router: ConnectRouter) => void {
  return (router) => {
    router.service(Health, {
      check(req) {
        const status = monitor.status(req.service);
        if (status === undefined) {
          throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
        }
        return create(HealthCheckResponseSchema, { status });
      },
      async *watch(req, ctx) {
        for await (const status of monitor.watch(req.service, ctx.signal)) {
          yield create(HealthCheckResponseSchema, { status });
        }
      },
      list() {
        return {
          statuses: Object.fromEntries(
            monitor
              .serviceNames()
              .map((s) => [s, create(HealthCheckResponseSchema, { status: monitor.status(s) })]),
          ),
        };
      },
    });
  };
}
