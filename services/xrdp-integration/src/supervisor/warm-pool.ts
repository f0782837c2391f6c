/**
 * The warm pool (WARM_POOL_SIZE): READY instances with no owner and no server, started ahead of
 * time, so that StartInstance on a node with a front door answers at once. A warm instance's
 * xrdp.ini has no session section, so no account can log in to it, and the door routes no token to
 * it: it is unreachable until it is handed out.
 *
 * Hand-out: one versioned write moves the record from warm to assigned (owner, server, request id),
 * and succeeds for one caller only, whatever the concurrency or the lives of the service; then the
 * xrdp.ini is rewritten with the owner (xrdp reads it again for every connection). A crash between
 * the two leaves an assigned instance that still admits no one (it fails closed); `repair()` at
 * start rewrites it. Only instances whose effective settings equal the request's are handed out.
 *
 * Filling: after every hand-out and every `intervalMs`, warm instances are started one at a time
 * until READY plus starting ones reach the target; a draining node's target is 0, and extras are
 * stopped. A warm instance that fails is replaced.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "@lucid-rdp/runtime";
import { canonical } from "../domain/instance-identity.js";
import { isLiveState } from "../domain/instance-states.js";
import type { EffectiveSettings } from "../domain/xrdp-settings.js";
import { writeFileAtomic } from "../host/write-file-atomic.js";
import type { InstanceRecord } from "../store/records.js";
import { planInstanceFolder } from "./instance-folder.js";
import type { InstanceRecords } from "./instance-records.js";
import type { StartRequest } from "./supervisor-options.js";

export interface WarmPoolOptions {
  /** How many warm instances to keep (WARM_POOL_SIZE). */
  readonly target: number;
  readonly records: InstanceRecords;
  readonly logger: Logger;
  readonly stateDir: string;
  readonly listenAddress: string;
  /** Starts one warm instance (InstanceStarter.startWarm). */
  readonly startWarm: (req: {
    requestId: string;
    settings: StartRequest["settings"];
  }) => Promise<InstanceRecord>;
  /** Stops an extra warm instance. */
  readonly stop: (id: string) => Promise<unknown>;
  /** Whether instances can start at all (xrdp found): no attempt, and no log, while not. */
  readonly available?: () => boolean;
  /** @default 1000 */
  readonly intervalMs?: number;
}

/** The pool's state: GetHostInfo, RegisterNode, /metrics. */
export interface WarmPoolStatus {
  readonly target: number;
  readonly ready: number;
  readonly starting: number;
}

export class WarmPool {
  private draining = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private filling: Promise<void> | undefined;
  private again = false;
  /** Warm instances a hand-out in this process is trying: other hand-outs pick others. */
  private readonly claiming = new Set<string>();
  private last: WarmPoolStatus;
  /** The last filling error logged: the same one again is not logged every second. */
  private lastError = "";

  constructor(private readonly opts: WarmPoolOptions) {
    this.last = { target: opts.target, ready: 0, starting: 0 };
  }

  /** The configured size; 0 while the node drains. */
  target(): number {
    return this.draining ? 0 : this.opts.target;
  }

  /** The pool as last counted. */
  status(): WarmPoolStatus {
    return { ...this.last, target: this.target() };
  }

  /** A draining node keeps no warm instance; undrained, it fills again. */
  setDraining(draining: boolean): void {
    if (draining === this.draining) return;
    this.draining = draining;
    this.kick();
  }

  /** Repairs interrupted hand-outs, then fills the pool and keeps it filled. */
  start(): void {
    if (this.opts.target === 0) return;
    void this.repair()
      .catch((e: unknown) => this.opts.logger.warn({ err: e }, "warm pool: repair failed"))
      .finally(() => this.kick());
    this.timer = setInterval(() => this.kick(), this.opts.intervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Stops filling (the instances themselves are the supervisor's to stop or leave). */
  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.filling;
  }

  /**
   * Hands a READY warm instance to `req`, or undefined when none fits (none READY, or the request
   * asks for other settings than warm instances run).
   */
  async take(req: StartRequest, effective: EffectiveSettings): Promise<InstanceRecord | undefined> {
    if (this.opts.target === 0) return undefined;
    // A request with a certificate of its own gets an instance started with it.
    if (effective.tlsCertPath !== "" || effective.tlsKeyPath !== "") return undefined;
    const { tlsCertPath: _c, tlsKeyPath: _k, ...asked } = effective;
    const wanted = canonical(asked);
    const candidates = (await this.opts.records.listWarmReady()).filter(
      (r) => !this.claiming.has(r.id),
    );
    for (const candidate of candidates) {
      if (this.claiming.has(candidate.id)) continue;
      const plan = this.planFor(candidate, req.owner);
      if (canonical(plan.effectiveWithoutPaths) !== wanted) continue;
      this.claiming.add(candidate.id);
      try {
        const assigned = await this.opts.records.assign(
          candidate.id,
          {
            requestId: req.requestId,
            serverId: req.serverId,
            owner: req.owner,
            settings: { ...req.settings },
            requestedPort: 0,
          },
          candidate,
        );
        if (assigned === undefined) continue;
        // Atomic but not synced to disk: after a crash of the machine, repair() at the next start
        // writes it again from the record, so the hand-out does not wait for two fsyncs.
        await writeFileAtomic(plan.ini.path, plan.ini.text, 0o600, { durable: false });
        this.opts.logger.info(
          { instance: assigned.id, server: req.serverId, port: assigned.port },
          "warm instance handed out",
        );
        return assigned;
      } finally {
        this.claiming.delete(candidate.id);
        this.kick();
      }
    }
    this.kick();
    return undefined;
  }

  /**
   * Rewrites the xrdp.ini of handed-out instances from their records: a hand-out cut between its
   * record and its file left an instance that admits no one.
   */
  async repair(): Promise<number> {
    let repaired = 0;
    for (const r of await this.opts.records.listLive()) {
      if (r.pooled !== true || r.warm === true || r.owner === undefined) continue;
      const plan = this.planFor(r, r.owner);
      await writeFileAtomic(plan.ini.path, plan.ini.text, 0o600);
      repaired++;
    }
    return repaired;
  }

  /** Starts warm instances up to the target, or stops extras; runs once at a time. */
  private kick(): void {
    if (this.stopped) return;
    if (this.filling !== undefined) {
      this.again = true;
      return;
    }
    this.filling = this.fill()
      .then(() => {
        this.lastError = "";
      })
      .catch((e: unknown) => {
        const message = String(e);
        if (message !== this.lastError) {
          this.opts.logger.warn({ err: e }, "warm pool: filling failed; retried every second");
        }
        this.lastError = message;
      })
      .finally(() => {
        this.filling = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async fill(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const warm = (await this.opts.records.listWarm()).filter((r) => isLiveState(r.state));
      const ready = warm.filter((r) => r.state === "READY").length;
      this.last = { target: this.target(), ready, starting: warm.length - ready };
      const target = this.target();
      if (warm.length > target) {
        const extra = warm
          .filter((r) => !this.claiming.has(r.id) && r.state !== "STOPPING")
          .slice(0, warm.length - target);
        await Promise.all(
          extra.map((r) =>
            this.opts
              .stop(r.id)
              .catch((e: unknown) =>
                this.opts.logger.warn({ err: e, instance: r.id }, "warm pool: stop failed"),
              ),
          ),
        );
        return;
      }
      if (warm.length === target || this.opts.available?.() === false) return;
      // One at a time: a start is mostly waiting for xrdp, and the node serves meanwhile.
      await this.opts.startWarm({ requestId: randomUUID(), settings: {} });
    }
  }

  private planFor(r: InstanceRecord, owner: string | undefined) {
    const effective = r.effectiveSettings as unknown as EffectiveSettings;
    const plan = planInstanceFolder({
      stateDir: this.opts.stateDir,
      id: r.id,
      listenAddress: this.opts.listenAddress,
      port: r.port,
      owner,
      // Paths as the instance was started with them (its own certificate, or the service's).
      effective,
      sesmanAddress: r.sesmanAddress,
    });
    const { tlsCertPath: _c, tlsKeyPath: _k, ...effectiveWithoutPaths } = effective;
    return {
      ini: { path: plan.paths.xrdpIni, text: plan.ini },
      effectiveWithoutPaths,
    };
  }
}
