/**
 * The leader's rounds over the sessions: the five timers, the repair of sessions a crash left
 * half-way, and the outbox relay. One replica at a time runs them (main's leader loops).
 */
import type { Clock, Logger } from "@lucid-rdp/runtime";
import { systemActor } from "../domain/actor.js";
import { dueActions, markWarned, type SessionTimer, timerReasons } from "../domain/timers.js";
import type { SessionStore } from "../store/stores.js";
import type { Provisioner } from "./provisioner.js";
import type { SessionEnder } from "./session-ender.js";
import type { SessionRepository } from "./session-repository.js";

/** What the ticks need. */
export interface SessionTicksOptions {
  readonly store: SessionStore;
  readonly writer: SessionRepository;
  readonly ender: SessionEnder;
  readonly provisioner: Provisioner;
  /** Whether a server-manager is configured (provisioning is resumed only then). */
  readonly canProvision: boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly warnBeforeMs: number;
  readonly provisionTimeoutMs: number;
}

/** The leader-only rounds: timers, repairs, relay. */
export class SessionTicks {
  constructor(private readonly opts: SessionTicksOptions) {}

  /** One round of the timers (leader only): warnings first, then the acts. */
  async timersTick(signal?: AbortSignal): Promise<number> {
    const { store, writer } = this.opts;
    const now = this.opts.clock();
    let done = 0;
    const due = await store.list({
      where: { nextDeadline: { lt: now } },
      pageSize: 200,
      signal,
    });
    for (const s of due.items) {
      try {
        for (const action of dueActions(writer.timerView(s), now, this.opts.warnBeforeMs)) {
          if (action.kind === "warn") {
            const cur = await writer.get(s.id);
            const extra = { timer: action.timer, deadline: action.deadline.toISOString() };
            await writer.apply(
              s.id,
              { warned: markWarned(cur.warned, action.timer, action.deadline) },
              {
                events: [
                  {
                    type: "session.timer_warning",
                    data: (session) => ({ session, previousState: undefined, ...extra }),
                  },
                ],
              },
            );
          } else {
            await this.opts.ender.terminate(
              s.id,
              timerReasons[action.timer],
              `${timerLabel(action.timer)} reached at ${action.deadline.toISOString()}`,
              systemActor,
            );
            break;
          }
          done++;
        }
      } catch (e) {
        this.opts.logger.warn({ err: e, session: s.id }, "timer action failed: retried next tick");
      }
    }
    return done;
  }

  /**
   * Repairs sessions a crash or an outage left half-way: termination is finished; provisioning is
   * resumed once nobody has touched the session for 5 s, and failed once it is older than the
   * provisioning timeout (counted from its creation, which nothing moves). A server made for a
   * session failed here is deleted by the server follower's reconcile (orphaned servers).
   */
  async repairTick(): Promise<void> {
    const now = this.opts.clock().getTime();
    const stuck = await this.opts.store.list({
      where: { state: { in: ["PENDING", "PROVISIONING", "TERMINATING"] } },
      pageSize: 200,
    });
    for (const s of stuck.items) {
      if (s.state === "TERMINATING") {
        await this.opts.ender.finishTerminate(s.id).catch(() => undefined);
      } else if (now - s.createTime.getTime() > this.opts.provisionTimeoutMs) {
        await this.opts.ender
          .fail(
            s.id,
            "PROVISIONING_FAILED",
            `provisioning timed out${s.stateMessage ? ` (${s.stateMessage})` : ""}`,
            systemActor,
          )
          .catch(() => undefined);
      } else if (now - s.updateTime.getTime() > 5_000 && this.opts.canProvision) {
        // In the background, so that a slow server-manager does not stall the timers.
        void this.opts.provisioner.ensure(s.id);
      }
    }
  }

  /** One round of the outbox relay (leader): events a crashed writer left in session records. */
  relayTick(signal?: AbortSignal): Promise<number> {
    return this.opts.writer.relayOnce(5_000, signal);
  }
}

function timerLabel(timer: SessionTimer): string {
  return {
    connect: "connect deadline",
    idle: "idle timeout",
    disconnected: "disconnected limit",
    max_duration: "maximum duration",
    keepalive: "keepalive expiry",
  }[timer];
}
