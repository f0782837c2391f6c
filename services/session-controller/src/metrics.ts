/**
 * Session gauges and counters on /metrics: sessions by state (counted in the store at each
 * scrape, so every replica reports the cluster's truth), creates, failures, and the time from
 * creation to READY.
 */

import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { sessionStates as states } from "./domain/session-state.js";
import type { SessionState } from "./domain/session-values.js";
import type { SessionRecord } from "./store/records.js";
import type { SessionStore } from "./store/stores.js";

export function createSessionMetrics(registry: Registry, store: SessionStore) {
  new Gauge({
    name: "lucid_sessions",
    help: "Sessions by state.",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      for (const state of states) this.set({ state }, await store.count({ state }));
    },
  });
  const creates = new Counter({
    name: "lucid_session_creates_total",
    help: "Sessions created (reused ones not counted).",
    registers: [registry],
  });
  const failures = new Counter({
    name: "lucid_session_failures_total",
    help: "Sessions that ended FAILED.",
    registers: [registry],
  });
  const timeToReady = new Histogram({
    name: "lucid_session_time_to_ready_seconds",
    help: "Time from CreateSession to READY.",
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120],
    registers: [registry],
  });
  return {
    transitioned(from: SessionState, to: SessionState, s: SessionRecord) {
      if (from === "PENDING" && to === "PENDING") creates.inc();
      if (to === "FAILED") failures.inc();
      if (to === "READY" && s.readyTime) {
        timeToReady.observe((s.readyTime.getTime() - s.createTime.getTime()) / 1000);
      }
    },
  };
}
