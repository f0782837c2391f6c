/**
 * BusWakeups on the memory bus and on a real redis-server (started on a free port by the test):
 * a waiter wakes on events about its subject only, keeps an event that arrived between two waits,
 * ends by its timeout or signal, and, on Redis, is woken when the subscription fails and again by
 * events once the server is back. Without redis-server the Redis part fails under CI=true and skips
 * loudly otherwise.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { MissingToolError, type RealServer, startRedis } from "@lucid-rdp/testing";
import type { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BusWakeups } from "../../src/coordination/bus-wakeups.js";
import {
  createRedisClient,
  type EventBus,
  MemoryEventBus,
  RedisEventBus,
} from "../../src/coordination/index.js";
import { eventually } from "./fixture.js";

/** Long enough never to end a wait that an event should end; short enough for a failing test. */
const longMs = 10_000;

const opened: BusWakeups[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((w) => w.close()));
});

/** Wake-ups on `bus`, closed after the test, resolved once the subscription delivers events. */
async function liveWakeups(
  bus: EventBus,
  extra: { onError?: (e: unknown, retryInMs: number) => void } = {},
) {
  const wakeups = new BusWakeups({
    bus,
    family: "session",
    retryMs: 20,
    maxRetryMs: 100,
    ...extra,
  });
  opened.push(wakeups);
  await untilLive(wakeups, bus);
  return wakeups;
}

/** Publishes markers until one wakes a watcher: the subscription is live from then on. */
async function untilLive(wakeups: BusWakeups, bus: EventBus): Promise<void> {
  const marker = `marker-${randomUUID()}`;
  const w = wakeups.watch(marker);
  try {
    await eventually(async () => {
      await bus.publish({ type: "session.marker", subject: marker, data: {} });
      return (await w.next(50)) === "event";
    }, "the wake-ups to follow the bus");
  } finally {
    w.close();
  }
}

function describeWakeups(name: string, makeBus: () => Promise<EventBus>) {
  describe(`BusWakeups (${name})`, () => {
    describe("watch()", () => {
      it("wakes the waiter of the event's subject and no other", async () => {
        const bus = await makeBus();
        const wakeups = await liveWakeups(bus);
        const mine = wakeups.watch("s-1");
        const other = wakeups.watch("s-2");
        const woken = mine.next(longMs);
        const notWoken = other.next(200);
        await bus.publish({ type: "session.state_changed", subject: "s-1", data: {} });
        expect(await woken).toBe("event");
        expect(await notWoken).toBe("timeout");
        mine.close();
        other.close();
      });

      it("keeps an event that arrived before next() was called", async () => {
        const bus = await makeBus();
        const wakeups = await liveWakeups(bus);
        const w = wakeups.watch("s-1");
        const probe = wakeups.watch("s-1");
        const probed = probe.next(longMs);
        await bus.publish({ type: "session.state_changed", subject: "s-1", data: {} });
        // Both waiters are told in the same step: once `probe` is woken, `w` has been told too.
        expect(await probed).toBe("event");
        expect(await w.next(longMs)).toBe("event");
        // Kept once: the next call waits for a new event.
        expect(await w.next(50)).toBe("timeout");
        w.close();
        probe.close();
      });

      it("wakes every waiter of one subject", async () => {
        const bus = await makeBus();
        const wakeups = await liveWakeups(bus);
        const ws = [wakeups.watch("s-1"), wakeups.watch("s-1"), wakeups.watch("s-1")];
        const woken = ws.map((w) => w.next(longMs));
        await bus.publish({ type: "session.created", subject: "s-1", data: {} });
        expect(await Promise.all(woken)).toEqual(["event", "event", "event"]);
        for (const w of ws) w.close();
      });

      it("no longer wakes a closed waiter", async () => {
        const bus = await makeBus();
        const wakeups = await liveWakeups(bus);
        const closed = wakeups.watch("s-1");
        closed.close();
        const open = wakeups.watch("s-1");
        await bus.publish({ type: "session.created", subject: "s-1", data: {} });
        expect(await open.next(longMs)).toBe("event");
        expect(await closed.next(50)).toBe("timeout");
        open.close();
      });
    });

    describe("next()", () => {
      it("ends with timeout when no event comes", async () => {
        const wakeups = await liveWakeups(await makeBus());
        const w = wakeups.watch("s-1");
        expect(await w.next(30)).toBe("timeout");
        expect(await w.next(-5)).toBe("timeout");
        w.close();
      });

      it("ends with aborted when its signal aborts, at once if it already has", async () => {
        const wakeups = await liveWakeups(await makeBus());
        const w = wakeups.watch("s-1");
        expect(await w.next(longMs, AbortSignal.abort())).toBe("aborted");
        const stop = new AbortController();
        const waiting = w.next(longMs, stop.signal);
        stop.abort();
        expect(await waiting).toBe("aborted");
        w.close();
      });
    });

    describe("close()", () => {
      it("ends the subscription and leaves waits to their timeouts", async () => {
        const bus = await makeBus();
        const wakeups = await liveWakeups(bus);
        const w = wakeups.watch("s-1");
        await wakeups.close();
        await bus.publish({ type: "session.created", subject: "s-1", data: {} });
        expect(await w.next(50)).toBe("timeout");
        w.close();
      });
    });
  });
}

describeWakeups("memory", async () => new MemoryEventBus());

let redis: RealServer | undefined;
try {
  redis = await startRedis();
} catch (err) {
  if (!(err instanceof MissingToolError)) throw err;
  err.report("BusWakeups on Redis");
}

if (redis === undefined) {
  describe("BusWakeups (redis)", () => {
    it("needs redis-server (see the SKIPPED line above)", (ctx) => {
      ctx.skip();
    });
  });
} else {
  const server = redis;
  const clients: Redis[] = [];
  async function redisBus(): Promise<EventBus> {
    const client = createRedisClient(server.url);
    clients.push(client);
    if (client.status !== "ready") await once(client, "ready");
    return new RedisEventBus(client, { keyPrefix: `test:${randomUUID()}:` });
  }
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server.close();
  });

  describeWakeups("redis", redisBus);

  describe("BusWakeups (redis outage)", () => {
    it("wakes every waiter when the subscription fails, and follows again once Redis is back", async () => {
      const bus = await redisBus();
      const errors: unknown[] = [];
      const wakeups = await liveWakeups(bus, { onError: (e) => errors.push(e) });
      const w = wakeups.watch("s-1");
      const woken = w.next(longMs);
      await server.stop();
      // Events published while Redis was down are lost: the waiter is told to re-read at once.
      expect(await woken).toBe("event");
      expect(errors.length).toBeGreaterThan(0);
      await server.start();
      // The restarted server is empty (no persistence): the old cursor is out of range, and the
      // wake-ups start again from the newest event.
      await untilLive(wakeups, bus);
      while ((await w.next(0)) === "event") {
        // drain the wake-ups of the outage
      }
      const again = w.next(longMs);
      await bus.publish({ type: "session.state_changed", subject: "s-1", data: {} });
      expect(await again).toBe("event");
      w.close();
    });
  });
}
