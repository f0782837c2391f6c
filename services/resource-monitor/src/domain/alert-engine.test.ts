import { describe, expect, it } from "vitest";
import {
  type AlertEvent,
  type EngineAlert,
  type EvaluableRule,
  type Evaluation,
  evaluate,
  fingerprint,
  isSilenced,
  SilenceValidationError,
  silenceAlert,
} from "./alert-engine.js";
import type { SeriesValue } from "./metrics-catalog.js";

const sec = 1_000;
const min = 60 * sec;

/** The controllable clock: times are offsets from t0. */
const t0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const at = (ms: number) => new Date(t0 + ms);

const cpuRule = (over: Partial<EvaluableRule> = {}): EvaluableRule => ({
  id: "rule-1",
  comparison: "GT",
  threshold: 90,
  forMs: 5 * min,
  severity: "CRITICAL",
  labels: { team: "ops" },
  enabled: true,
  selector: {},
  matchers: [{ name: "node_id", operator: "EQUAL", value: "n1" }],
  summary: "A server burns CPU.",
  ...over,
});

const s1 = { server_id: "s1", node_id: "n1" };
const s2 = { server_id: "s2", node_id: "n1" };
const series = (value: number, labels: Record<string, string> = s1): SeriesValue => ({
  labels,
  value,
});

/**
 * The rule's alerts as a store would keep them, evaluated step by step: each step applies the
 * evaluation (insert, update with a new version, delete) and returns it.
 */
function harness(rule: EvaluableRule) {
  let stored: EngineAlert[] = [];
  let ids = 0;
  return {
    get alerts() {
      return stored;
    },
    step(ms: number, values: SeriesValue[]): Evaluation {
      const out = evaluate(rule, values, stored, at(ms), { newId: () => `alert-${++ids}` });
      const byId = new Map(stored.map((a) => [a.id, a]));
      for (const a of [...out.upserts, ...out.resolved]) {
        byId.set(a.id, { ...a, version: (a.version ?? 0) + 1, updateTime: at(ms) });
      }
      for (const a of out.removed) byId.delete(a.id);
      stored = [...byId.values()];
      return out;
    },
    silence(ms: number, durationMs: number) {
      const [only] = stored;
      if (only === undefined) throw new Error("no alert");
      const r = silenceAlert(only, { durationMs, by: "alice", comment: "maintenance" }, at(ms));
      stored = [r.alert];
      return r;
    },
  };
}

const brief = (events: AlertEvent[]) =>
  events.map(
    (e) => `${e.type}${e.notify ? " notify" : ""} ${e.previousState ?? ""}->${e.alert.state}`,
  );

describe("fingerprint()", () => {
  it("is the same whatever the order of the labels", () => {
    expect(fingerprint("r", { b: "2", a: "1" })).toBe(fingerprint("r", { a: "1", b: "2" }));
  });

  it("differs per rule and per labels, and is sha256 hex", () => {
    const f = fingerprint("r", { a: "1" });
    expect(f).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint("other", { a: "1" })).not.toBe(f);
    expect(fingerprint("r", { a: "2" })).not.toBe(f);
    expect(fingerprint("r", { "a,b": "1" })).not.toBe(fingerprint("r", { a: "b,1" }));
  });
});

describe("evaluate()", () => {
  it("raises a PENDING alert when the condition holds, and fires it once it held for `for`", () => {
    const h = harness(cpuRule());
    const first = h.step(0, [series(95)]);
    expect(brief(first.events)).toEqual(["alert.pending INACTIVE->PENDING"]);
    expect(first.upserts).toHaveLength(1);
    expect(first.upserts[0]).toMatchObject({
      id: "alert-1",
      ruleId: "rule-1",
      fingerprint: fingerprint("rule-1", s1),
      state: "PENDING",
      activeSince: at(0),
      value: 95,
      threshold: 90,
      severity: "CRITICAL",
      summary: "A server burns CPU.",
      labels: { server_id: "s1", node_id: "n1", team: "ops" },
      lastEvaluationTime: at(0),
    });
    expect(first.upserts[0]?.version).toBeUndefined();

    const waiting = h.step(4 * min, [series(97)]);
    expect(waiting.events).toEqual([]);
    expect(waiting.upserts[0]).toMatchObject({ state: "PENDING", value: 97, version: 1 });

    const fired = h.step(5 * min, [series(96)]);
    expect(brief(fired.events)).toEqual(["alert.firing notify PENDING->FIRING"]);
    expect(fired.upserts[0]).toMatchObject({
      id: "alert-1",
      state: "FIRING",
      activeSince: at(0),
      firedTime: at(5 * min),
    });
  });

  it("fires at once when `for` is 0", () => {
    const h = harness(cpuRule({ forMs: 0 }));
    const out = h.step(0, [series(95)]);
    expect(brief(out.events)).toEqual(["alert.firing notify INACTIVE->FIRING"]);
    expect(out.upserts[0]).toMatchObject({ state: "FIRING", activeSince: at(0), firedTime: at(0) });
  });

  it("resolves a firing alert when the condition clears", () => {
    const h = harness(cpuRule({ forMs: 0 }));
    h.step(0, [series(95)]);
    const out = h.step(1 * min, [series(40)]);
    expect(brief(out.events)).toEqual(["alert.resolved notify FIRING->RESOLVED"]);
    expect(out.upserts).toEqual([]);
    expect(out.resolved).toHaveLength(1);
    expect(out.resolved[0]).toMatchObject({
      state: "RESOLVED",
      resolvedTime: at(1 * min),
      value: 40,
    });
    // a resolved alert whose condition stays false is left alone
    expect(h.step(2 * min, [series(30)])).toEqual({
      upserts: [],
      resolved: [],
      removed: [],
      events: [],
    });
  });

  it("resolves a firing alert whose series disappears", () => {
    const h = harness(cpuRule({ forMs: 0 }));
    h.step(0, [series(95), series(99, s2)]);
    const out = h.step(1 * min, [series(99, s2)]);
    expect(brief(out.events)).toEqual(["alert.resolved notify FIRING->RESOLVED"]);
    expect(out.resolved[0]?.labels).toMatchObject({ server_id: "s1" });
    expect(out.upserts.map((a) => a.labels.server_id)).toEqual(["s2"]);
  });

  it("drops a pending alert whose condition clears before `for` (INACTIVE)", () => {
    const h = harness(cpuRule());
    h.step(0, [series(95)]);
    const out = h.step(2 * min, [series(50)]);
    expect(brief(out.events)).toEqual(["alert.inactive PENDING->INACTIVE"]);
    expect(out.removed.map((a) => a.id)).toEqual(["alert-1"]);
    expect(h.alerts).toEqual([]);
    // and a new episode starts from scratch
    expect(h.step(3 * min, [series(95)]).upserts[0]).toMatchObject({
      id: "alert-2",
      activeSince: at(3 * min),
    });
  });

  it("starts a resolved alert over at PENDING, keeping its id", () => {
    const h = harness(cpuRule());
    h.step(0, [series(95)]);
    h.step(5 * min, [series(95)]);
    h.step(6 * min, [series(10)]);
    const again = h.step(10 * min, [series(95)]);
    expect(brief(again.events)).toEqual(["alert.pending RESOLVED->PENDING"]);
    expect(again.upserts[0]).toMatchObject({
      id: "alert-1",
      state: "PENDING",
      activeSince: at(10 * min),
      firedTime: at(5 * min),
      resolvedTime: at(6 * min),
    });
    expect(brief(h.step(15 * min, [series(95)]).events)).toEqual([
      "alert.firing notify PENDING->FIRING",
    ]);
  });

  it("watches only the series its selector matches", () => {
    const h = harness(cpuRule({ forMs: 0 }));
    const out = h.step(0, [series(95, { server_id: "s9", node_id: "n2" }), series(95, s2)]);
    expect(out.upserts.map((a) => a.labels.server_id)).toEqual(["s2"]);
  });

  it("reads the old `selector` map when a rule has no `matchers`", () => {
    const h = harness(cpuRule({ forMs: 0, matchers: undefined, selector: { server_id: "s2" } }));
    expect(h.step(0, [series(95), series(95, s2)]).upserts.map((a) => a.labels.server_id)).toEqual([
      "s2",
    ]);
  });

  it("lets the rule's labels win over the series' labels", () => {
    const h = harness(cpuRule({ forMs: 0, labels: { node_id: "from-rule" } }));
    expect(h.step(0, [series(95)]).upserts[0]?.labels).toEqual({
      server_id: "s1",
      node_id: "from-rule",
    });
  });

  it("resolves every alert of a disabled rule", () => {
    const rule = cpuRule();
    const h = harness(rule);
    h.step(0, [series(95), series(95, s2)]);
    h.step(5 * min, [series(95)]);
    const out = evaluate({ ...rule, enabled: false }, [series(95)], h.alerts, at(6 * min));
    expect(brief(out.events)).toEqual(["alert.resolved notify FIRING->RESOLVED"]);
    expect([out.resolved.length, out.upserts.length, out.removed.length]).toEqual([1, 0, 0]);
  });

  it("ignores alerts of other rules and uses the open alert of a series with several", () => {
    const fp = fingerprint("rule-1", s1);
    const base = { ruleId: "rule-1", fingerprint: fp, labels: s1, value: 95, activeSince: at(0) };
    const out = evaluate(
      cpuRule(),
      [series(95)],
      [
        { ...base, id: "old", state: "RESOLVED", resolvedTime: at(0), updateTime: at(1 * min) },
        { ...base, id: "open", state: "PENDING" },
        { ...base, id: "foreign", ruleId: "rule-2", state: "FIRING" },
      ],
      at(5 * min),
    );
    expect(out.upserts.map((a) => [a.id, a.state])).toEqual([["open", "FIRING"]]);
  });
});

describe("evaluate() with silences", () => {
  it("stays quiet while silenced and notifies the firing when the silence ends", () => {
    const h = harness(cpuRule());
    h.step(0, [series(95)]);
    const silenced = h.silence(1 * min, 30 * min);
    expect(silenced.event).toMatchObject({ type: "alert.silenced", notify: false });
    expect(silenced.alert).toMatchObject({
      silencedUntil: at(31 * min),
      silencedBy: "alice",
      silenceComment: "maintenance",
    });

    // the state machine runs on: it fires, recorded but not notified
    const fired = h.step(5 * min, [series(95)]);
    expect(brief(fired.events)).toEqual(["alert.firing PENDING->FIRING"]);
    expect(fired.upserts[0]).toMatchObject({ state: "FIRING", silencedUntil: at(31 * min) });
    expect(isSilenced(h.alerts[0] ?? { silencedUntil: undefined }, at(30 * min))).toBe(true);
    expect(h.step(30 * min, [series(99)]).events).toEqual([]);

    // the silence expires while it still fires: the firing is notified now
    const expired = h.step(31 * min, [series(99)]);
    expect(brief(expired.events)).toEqual(["alert.unsilenced notify ->FIRING"]);
    const [after] = expired.upserts;
    expect(after).toMatchObject({ state: "FIRING", value: 99 });
    expect(after && "silencedUntil" in after && after.silencedUntil).toBe(undefined);
    expect(after?.silencedBy).toBeUndefined();
    expect(h.step(32 * min, [series(99)]).events).toEqual([]);
  });

  it("records state changes of a silenced alert without notifying any", () => {
    const h = harness(cpuRule({ forMs: 0 }));
    h.step(0, [series(95)]);
    h.silence(0, 60 * min);
    expect(brief(h.step(1 * min, [series(10)]).events)).toEqual([
      "alert.resolved FIRING->RESOLVED",
    ]);
    expect(brief(h.step(2 * min, [series(95)]).events)).toEqual(["alert.firing RESOLVED->FIRING"]);
    // it fired and resolved inside the silence: its expiry notifies nothing
    h.step(3 * min, [series(10)]);
    expect(brief(h.step(61 * min, [series(10)]).events)).toEqual(["alert.unsilenced ->RESOLVED"]);
  });

  it("does not notify a resolution in the round the silence expires", () => {
    const h = harness(cpuRule({ forMs: 0 }));
    h.step(0, [series(95)]);
    h.silence(0, 10 * min);
    expect(brief(h.step(10 * min, [series(10)]).events)).toEqual([
      "alert.unsilenced ->FIRING",
      "alert.resolved FIRING->RESOLVED",
    ]);
  });

  it("notifies a firing when the silence expires just as the alert fires", () => {
    const h = harness(cpuRule());
    h.step(0, [series(95)]);
    h.silence(0, 5 * min);
    expect(brief(h.step(5 * min, [series(95)]).events)).toEqual([
      "alert.unsilenced ->PENDING",
      "alert.firing notify PENDING->FIRING",
    ]);
  });
});

describe("silenceAlert()", () => {
  const firing: EngineAlert = {
    id: "a",
    ruleId: "r",
    fingerprint: "f",
    state: "FIRING",
    labels: {},
    value: 1,
    activeSince: at(0),
    firedTime: at(0),
  };

  it("replaces an earlier silence", () => {
    const first = silenceAlert(firing, { durationMs: 10 * min, by: "alice" }, at(0)).alert;
    const second = silenceAlert(
      first,
      { durationMs: 5 * min, by: "bob", comment: "" },
      at(1 * min),
    );
    expect(second.alert).toMatchObject({
      silencedUntil: at(6 * min),
      silencedBy: "bob",
      silenceComment: undefined,
    });
    expect(second.event?.type).toBe("alert.silenced");
  });

  it("lifts a silence with duration 0, notifying a firing alert", () => {
    const silenced = silenceAlert(firing, { durationMs: 10 * min, by: "alice" }, at(0)).alert;
    const lifted = silenceAlert(silenced, { durationMs: 0, by: "alice" }, at(1 * min));
    expect(lifted.changed).toBe(true);
    expect(lifted.event).toMatchObject({ type: "alert.unsilenced", notify: true });
    expect(lifted.alert.silencedUntil).toBeUndefined();
    expect(Object.hasOwn(lifted.alert, "silencedUntil")).toBe(true); // present as undefined: unsets on update
  });

  it("changes nothing when lifting an alert that has no silence", () => {
    expect(silenceAlert(firing, { durationMs: 0, by: "alice" }, at(0))).toEqual({
      alert: firing,
      changed: false,
    });
  });

  it("rejects a negative, non-finite or over-long duration", () => {
    for (const durationMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, 30 * 24 * 60 * min + 1]) {
      expect(() => silenceAlert(firing, { durationMs, by: "alice" }, at(0))).toThrow(
        SilenceValidationError,
      );
    }
  });
});
