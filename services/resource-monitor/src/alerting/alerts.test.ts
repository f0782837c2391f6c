import { Writable } from "node:stream";
import { createLogger, EnvReader } from "@lucid-rdp/runtime";
import { openBackends, readStorageConfig } from "@lucid-rdp/storage";
import { withLatency } from "@lucid-rdp/testing";
import { afterEach, describe, expect, it } from "vitest";
import { resourceMonitorSpecs } from "../store/specs.js";
import { Alerts } from "./alerts.js";

describe("Alerts", () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  /** The embedded stores and a silent logger, closed after the test. */
  function openEmbedded() {
    const logger = createLogger({
      service: "t",
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    const backends = openBackends(readStorageConfig(new EnvReader({ EMBEDDED_STATE: "memory" })), {
      logger,
      specs: resourceMonitorSpecs,
    });
    closers.push(() => backends.close());
    return { logger, backends };
  }

  /** Alerts on the embedded stores, over one host series whose value changes on every read. */
  function setup() {
    const { logger, backends } = openEmbedded();
    let reads = 0;
    // Store calls with a round trip's latency, so concurrent read-modify-writes interleave.
    const slow = withLatency(backends.stores.alerts);
    const alerts = new Alerts({
      rules: backends.stores.alertRules,
      alerts: slow,
      idempotency: backends.stores.idempotency,
      idempotencyTtlMs: 60_000,
      bus: backends.coordination.bus,
      logger,
      clock: () => new Date(),
      series: () => [{ labels: { node_id: "n1" }, value: 50 + (reads++ % 10) }],
      nodeId: "n1",
    });
    return { alerts, store: backends.stores.alerts };
  }

  const alwaysFiring = {
    name: "always",
    metric: "host_cpu_usage_percent",
    selector: {},
    comparison: "GTE" as const,
    threshold: 0,
    forMs: 0,
    severity: "WARNING" as const,
    labels: {},
    enabled: true,
  };

  it("silences and deletes while the evaluation after each sample rewrites the same alert: no conflict reaches the caller", async () => {
    const { alerts, store } = setup();
    // Samples arrive back to back, each evaluation rewriting the alert's value (a new version).
    let sampling = true;
    const evaluations = (async () => {
      while (sampling) {
        await alerts.evaluateAll();
        // The embedded stores answer in microtasks: yield, as the sampling timer does.
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let round = 0; round < 100; round++) {
        const id = `00000000-0000-4000-8000-${String(round).padStart(12, "0")}`;
        await alerts.createRule(id, alwaysFiring);
        let open = await store.list({ where: { ruleId: id }, pageSize: 10 });
        while (open.items.length === 0) {
          await new Promise((r) => setImmediate(r));
          open = await store.list({ where: { ruleId: id }, pageSize: 10 });
        }
        const alert = open.items[0];
        if (alert === undefined) throw new Error("no alert");
        expect(alert.state).toBe("FIRING");
        const silenced = await alerts.silence(alert.id, 60_000, "op", "known");
        expect(silenced.silencedBy).toBe("op");
        await alerts.deleteRule(id);
        expect((await store.list({ where: { ruleId: id }, pageSize: 10 })).items).toEqual([]);
      }
    } finally {
      sampling = false;
      await evaluations;
    }
  });

  it("stores an alert's events with it: a process that dies before publishing leaves them to the relay, published once", async () => {
    const { logger, backends } = openEmbedded();
    const bus = backends.coordination.bus;
    let now = Date.parse("2026-12-06T08:00:00Z");
    const common = {
      rules: backends.stores.alertRules,
      alerts: backends.stores.alerts,
      idempotency: backends.stores.idempotency,
      idempotencyTtlMs: 60_000,
      logger,
      clock: () => new Date(now),
      series: () => [{ labels: { node_id: "n1" }, value: 90 }],
      nodeId: "n1",
    };
    // This process's publishes all fail, as if it died right after each write.
    const dying = new Alerts({
      ...common,
      bus: new Proxy(bus, {
        get: (t, p, r) =>
          p === "publish" ? () => Promise.reject(new Error("died")) : Reflect.get(t, p, r),
      }),
    });
    await dying.createRule("00000000-0000-4000-8000-000000000001", alwaysFiring);
    await dying.evaluateAll();
    const [alert] = (await backends.stores.alerts.list({ pageSize: 10 })).items;
    expect(alert?.state).toBe("FIRING");
    expect(alert?.outbox?.map((e) => e.type)).toEqual(["alert.firing"]);
    expect(await bus.read("alert")).toEqual([]);

    // The next life relays them once the entries are older than 5 s, and only once.
    const next = new Alerts({ ...common, bus });
    expect(await next.relay()).toBe(0);
    now += 6_000;
    expect(await next.relay()).toBe(1);
    await next.relay();
    const events = await bus.read("alert");
    expect(events.map((e) => e.type)).toEqual(["alert.firing"]);
    expect((events[0]?.data as { alert?: { id: string } } | undefined)?.alert?.id).toBe(alert?.id);
    expect((await backends.stores.alerts.get(alert?.id ?? "")).outbox).toBeUndefined();
  });
});
