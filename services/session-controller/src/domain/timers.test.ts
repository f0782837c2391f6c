import { describe, expect, it } from "vitest";
import type { SessionTimerLengths } from "./policy.js";
import type { SessionDeadlines, SessionState } from "./session-values.js";
import {
  computeDeadlines,
  type DueAction,
  dueActions,
  markWarned,
  nextDeadline,
  type SessionTimer,
  type TimerSession,
  timerFields,
  timerReasons,
  timersIn,
} from "./timers.js";

const sec = 1_000;
const min = 60 * sec;
const hour = 60 * min;
const warnBefore = min;

/** The controllable clock: times are offsets from t0. */
const t0 = Date.UTC(2025, 0, 1, 8, 0, 0);
const at = (ms: number) => new Date(t0 + ms);

/** Long timers, so that each test sees only the timer it is about. */
const quiet: SessionTimerLengths = {
  connectDeadlineMs: 5 * min,
  idleTimeoutMs: 30 * min,
  disconnectedLimitMs: 15 * min,
  maxDurationMs: 7 * 24 * hour,
  keepaliveTimeoutMs: 24 * hour,
};

function session(over: Partial<TimerSession> = {}): TimerSession {
  return { state: "PENDING", createTime: at(0), policy: quiet, ...over };
}

const brief = (actions: DueAction[]) =>
  actions.map((a) => `${a.kind} ${a.timer} @${a.at.getTime() - t0}`);

/** Runs the timer loop's part at `now`: returns what was due and the session with warnings marked. */
function tick(s: TimerSession, now: number): { due: DueAction[]; after: TimerSession } {
  const due = dueActions(s, at(now), warnBefore);
  let warned = s.warned;
  for (const a of due) if (a.kind === "warn") warned = markWarned(warned, a.timer, a.deadline);
  return { due, after: { ...s, warned } };
}

/** Checks one timer: nothing before the warning, the warning once, nothing until the act, the act. */
function expectWarnThenAct(s: TimerSession, timer: SessionTimer, deadline: number): void {
  const warnAt = deadline - warnBefore;
  expect(brief(dueActions(s, at(warnAt - 1), warnBefore))).toEqual([]);
  expect(nextDeadline(s, warnBefore)).toEqual(at(warnAt));
  const first = tick(s, warnAt);
  expect(brief(first.due)).toEqual([`warn ${timer} @${warnAt}`]);
  expect(first.due[0]?.deadline).toEqual(at(deadline));
  expect(nextDeadline(first.after, warnBefore)).toEqual(at(deadline));
  expect(brief(dueActions(first.after, at(deadline - 1), warnBefore))).toEqual([]);
  expect(brief(dueActions(first.after, at(deadline), warnBefore))).toEqual([
    `act ${timer} @${deadline}`,
  ]);
}

describe("timers", () => {
  describe("timersIn()", () => {
    it("runs each timer only in its states", () => {
      const table: Record<SessionState, SessionTimer[]> = {
        PENDING: ["max_duration", "keepalive"],
        PROVISIONING: ["max_duration", "keepalive"],
        READY: ["connect", "max_duration", "keepalive"],
        ACTIVE: ["idle", "max_duration", "keepalive"],
        DISCONNECTED: ["disconnected", "max_duration", "keepalive"],
        TERMINATING: [],
        TERMINATED: [],
        FAILED: [],
      };
      for (const [state, timers] of Object.entries(table)) {
        expect(timersIn(state as SessionState), state).toEqual(timers);
      }
    });

    it("names the reason each timer ends a session with", () => {
      expect(timerReasons).toEqual({
        connect: "CONNECT_DEADLINE",
        idle: "IDLE_TIMEOUT",
        disconnected: "DISCONNECTED_LIMIT",
        max_duration: "MAX_DURATION",
        keepalive: "KEEPALIVE_EXPIRED",
      });
    });
  });

  describe("connect deadline", () => {
    const ready = session({ state: "READY", readyTime: at(2 * min) });

    it("warns, then acts, from readyTime", () => {
      expectWarnThenAct(ready, "connect", 7 * min);
    });

    it("does not run before READY or once someone connected", () => {
      for (const state of ["PENDING", "PROVISIONING", "ACTIVE", "DISCONNECTED"] as const) {
        const s = { ...ready, state, connectedTime: at(3 * min), disconnectedTime: at(3 * min) };
        expect(computeDeadlines(s, warnBefore).connect, state).toBeUndefined();
        expect(dueActions(s, at(7 * min), warnBefore).filter((a) => a.timer === "connect")).toEqual(
          [],
        );
      }
    });
  });

  describe("idle timeout", () => {
    const active = session({ state: "ACTIVE", connectedTime: at(10 * min) });

    it("warns, then acts, from the connection", () => {
      expectWarnThenAct(active, "idle", 40 * min);
    });

    it("restarts on activity, and warns again for the new deadline", () => {
      const { after } = tick(active, 39 * min); // warned for 40 min
      const busy = { ...after, lastActivityTime: at(39 * min + 30 * sec) };
      expect(computeDeadlines(busy, warnBefore).idle).toEqual(at(69 * min + 30 * sec));
      expect(brief(dueActions(busy, at(40 * min), warnBefore))).toEqual([]);
      expectWarnThenAct(busy, "idle", 69 * min + 30 * sec);
    });

    it("runs from the connection when the last activity is older", () => {
      const s = { ...active, lastActivityTime: at(5 * min) };
      expect(computeDeadlines(s, warnBefore).idle).toEqual(at(40 * min));
    });
  });

  describe("disconnected limit", () => {
    const gone = session({
      state: "DISCONNECTED",
      connectedTime: at(10 * min),
      disconnectedTime: at(20 * min),
    });

    it("warns, then acts, from the disconnect", () => {
      expectWarnThenAct(gone, "disconnected", 35 * min);
    });

    it("stops when the client comes back", () => {
      const back = { ...gone, state: "ACTIVE" as const, connectedTime: at(30 * min) };
      expect(computeDeadlines(back, warnBefore).disconnected).toBeUndefined();
      expect(computeDeadlines(back, warnBefore).idle).toEqual(at(60 * min));
    });
  });

  describe("maximum duration", () => {
    const policy = { ...quiet, maxDurationMs: 2 * hour };

    it("warns, then acts, from creation in every state it runs in", () => {
      for (const state of ["PENDING", "PROVISIONING", "READY", "ACTIVE", "DISCONNECTED"] as const) {
        const s = session({
          state,
          policy: { ...policy, connectDeadlineMs: 24 * hour, idleTimeoutMs: 24 * hour },
          readyTime: at(min),
          connectedTime: at(min),
          disconnectedTime: at(90 * min),
          lastActivityTime: at(100 * min),
        });
        expect(computeDeadlines(s, warnBefore).maxDuration, state).toEqual(at(2 * hour));
        expect(
          dueActions(s, at(2 * hour), warnBefore).filter((a) => a.timer === "max_duration"),
        ).toHaveLength(2);
      }
      expectWarnThenAct(session({ policy }), "max_duration", 2 * hour);
    });
  });

  describe("keepalive expiry", () => {
    const policy = { ...quiet, keepaliveTimeoutMs: 10 * min };

    it("warns, then acts, from creation when no KeepAlive came", () => {
      expectWarnThenAct(session({ policy }), "keepalive", 10 * min);
    });

    it("is renewed by each KeepAlive, warning again for the new deadline", () => {
      const { after } = tick(session({ state: "PROVISIONING", policy }), 9 * min);
      expect(after.warned?.keepalive).toEqual(at(10 * min));
      const kept = { ...after, lastKeepAliveTime: at(9 * min + 30 * sec) };
      expect(brief(dueActions(kept, at(10 * min), warnBefore))).toEqual([]);
      expectWarnThenAct(kept, "keepalive", 19 * min + 30 * sec);
    });
  });

  describe("dueActions()", () => {
    it("lists a missed warning before its act when both are overdue", () => {
      const s = session({ state: "READY", readyTime: at(0) });
      expect(brief(dueActions(s, at(hour), warnBefore))).toEqual([
        `warn connect @${4 * min}`,
        `act connect @${5 * min}`,
      ]);
    });

    it("orders several timers by time", () => {
      const s = session({
        state: "ACTIVE",
        connectedTime: at(0),
        policy: { ...quiet, idleTimeoutMs: 10 * min, keepaliveTimeoutMs: 8 * min },
      });
      expect(brief(dueActions(s, at(10 * min), warnBefore))).toEqual([
        `warn keepalive @${7 * min}`,
        `act keepalive @${8 * min}`,
        `warn idle @${9 * min}`,
        `act idle @${10 * min}`,
      ]);
    });

    it("warns as soon as a timer is armed when it is shorter than the warning lead", () => {
      const s = session({
        state: "READY",
        readyTime: at(0),
        policy: { ...quiet, connectDeadlineMs: 20 * sec },
      });
      expect(computeDeadlines(s, warnBefore).warnings.connect).toEqual(at(0));
      expect(brief(dueActions(s, at(0), warnBefore))).toEqual(["warn connect @0"]);
    });

    it("runs nothing in TERMINATING, TERMINATED or FAILED", () => {
      for (const state of ["TERMINATING", "TERMINATED", "FAILED"] as const) {
        const s = session({
          state,
          readyTime: at(0),
          connectedTime: at(0),
          disconnectedTime: at(0),
        });
        expect(dueActions(s, at(365 * 24 * hour), warnBefore)).toEqual([]);
        expect(nextDeadline(s, warnBefore)).toBeUndefined();
        expect(computeDeadlines(s, warnBefore)).toEqual({ warnings: {} });
      }
    });

    it("refuses a negative warning lead", () => {
      expect(() => dueActions(session(), at(0), -1)).toThrow(RangeError);
    });
  });

  describe("nextDeadline()", () => {
    it("is the earliest pending warning or act", () => {
      const s = session({
        state: "ACTIVE",
        connectedTime: at(0),
        policy: { ...quiet, idleTimeoutMs: 10 * min, keepaliveTimeoutMs: 20 * min },
      });
      expect(nextDeadline(s, warnBefore)).toEqual(at(9 * min));
      const warnedIdle = { ...s, warned: markWarned(undefined, "idle", at(10 * min)) };
      expect(nextDeadline(warnedIdle, warnBefore)).toEqual(at(10 * min));
      const stale = { ...s, warned: markWarned(undefined, "idle", at(5 * min)) };
      expect(nextDeadline(stale, warnBefore)).toEqual(at(9 * min));
    });

    it("is written to the record with the deadlines by timerFields()", () => {
      const s = session({ state: "READY", readyTime: at(min) });
      expect(timerFields(s, warnBefore)).toEqual({
        deadlines: {
          connect: at(6 * min),
          maxDuration: at(7 * 24 * hour),
          keepalive: at(24 * hour),
        },
        nextDeadline: at(5 * min),
      });
      expect(timerFields({ ...s, state: "TERMINATING" }, warnBefore)).toEqual({
        deadlines: {},
        nextDeadline: undefined,
      });
    });
  });

  describe("restart safety", () => {
    /** What a store does to a record: serialise and read back, Dates revived. */
    function storeAndLoad(s: TimerSession): TimerSession {
      const revive = (_key: string, value: unknown) =>
        typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value) ? new Date(value) : value;
      return JSON.parse(JSON.stringify(s), revive) as TimerSession;
    }

    it("recomputes the same pending actions from a stored record", () => {
      const s = session({
        state: "ACTIVE",
        readyTime: at(min),
        connectedTime: at(2 * min),
        lastActivityTime: at(3 * min),
        lastKeepAliveTime: at(4 * min),
        policy: { ...quiet, keepaliveTimeoutMs: 10 * min },
      });
      const { after } = tick(s, 13 * min); // keepalive warned
      const loaded = storeAndLoad(after);
      for (const now of [13 * min, 14 * min, 32 * min, 34 * min]) {
        expect(dueActions(loaded, at(now), warnBefore)).toEqual(
          dueActions(after, at(now), warnBefore),
        );
      }
      expect(nextDeadline(loaded, warnBefore)).toEqual(nextDeadline(after, warnBefore));
      expect(computeDeadlines(loaded, warnBefore)).toEqual(computeDeadlines(after, warnBefore));
      expect(brief(dueActions(loaded, at(14 * min), warnBefore))).toEqual([
        `act keepalive @${14 * min}`,
      ]);
    });

    it("never repeats a warning that a previous replica recorded", () => {
      const s = session({ state: "DISCONNECTED", disconnectedTime: at(0) });
      const first = tick(s, 14 * min);
      expect(brief(first.due)).toEqual([`warn disconnected @${14 * min}`]);
      const warned: SessionDeadlines | undefined = storeAndLoad(first.after).warned;
      const second = tick({ ...s, warned }, 14 * min + 30 * sec);
      expect(second.due).toEqual([]);
    });
  });
});
