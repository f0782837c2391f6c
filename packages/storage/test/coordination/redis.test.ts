/**
 * The coordination contract suites against a real redis-server (started on a free port by the
 * test, without persistence), plus what only a real server can show: Redis' own errors pass
 * through untouched, and an outage fails calls with BackendUnavailableError while the same client
 * recovers on its own once the server is back. Without redis-server: fails under CI=true, skips
 * loudly otherwise.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { MissingToolError, type RealServer, startRedis } from "@lucid-rdp/testing";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BusEvent,
  createRedisClient,
  createRedisCoordination,
  LeaderElector,
  type Lease,
  RedisCounters,
  RedisEventBus,
  RedisLeaseManager,
  RedisPortLeases,
  redisCheck,
} from "../../src/coordination/index.js";
import { BackendUnavailableError } from "../../src/errors.js";
import { describeEventBusContract, EVENT_BUS_CONTRACT_MAX_LEN } from "./bus.contract.js";
import { describeCountersContract } from "./counters.contract.js";
import { eventually, realClock } from "./fixture.js";
import { describeLeaseManagerContract } from "./leases.contract.js";
import { describePortLeasesContract } from "./ports.contract.js";

let server: RealServer | undefined;
try {
  server = await startRedis();
} catch (err) {
  if (!(err instanceof MissingToolError)) throw err;
  err.report("coordination on Redis");
}

/** A client connected to the test server (commands fail until it is ready: no offline queue). */
async function connectedClient(url: string): Promise<Redis> {
  const client = createRedisClient(url);
  if (client.status !== "ready") await once(client, "ready");
  return client;
}

/** Keys of one test, apart from every other test's on the shared server. */
function freshPrefix(): string {
  return `test:${randomUUID()}:`;
}

if (server === undefined) {
  describe("coordination on Redis", () => {
    it("needs redis-server (see the SKIPPED line above)", (ctx) => {
      ctx.skip();
    });
  });
} else {
  const url = server.url;
  let shared: Redis | undefined;
  /** One client for the contract suites, connected on first use. */
  async function sharedClient(): Promise<Redis> {
    shared ??= await connectedClient(url);
    return shared;
  }
  afterAll(async () => {
    shared?.disconnect();
    await server?.close();
  });

  function redisFixture<T>(build: (client: Redis, keyPrefix: string) => T) {
    return async () => ({
      impl: build(await sharedClient(), freshPrefix()),
      close: async () => {},
      ...realClock,
    });
  }

  describeLeaseManagerContract(
    "redis",
    redisFixture((client, keyPrefix) => new RedisLeaseManager(client, { keyPrefix })),
  );
  describePortLeasesContract(
    "redis",
    redisFixture((client, keyPrefix) => new RedisPortLeases(client, { keyPrefix })),
  );
  describeCountersContract(
    "redis",
    redisFixture((client, keyPrefix) => new RedisCounters(client, { keyPrefix })),
  );
  describeEventBusContract(
    "redis",
    redisFixture(
      (client, keyPrefix) =>
        new RedisEventBus(client, {
          keyPrefix,
          maxLen: EVENT_BUS_CONTRACT_MAX_LEN,
          trimming: "exact",
        }),
    ),
  );

  describe("Redis adapters", () => {
    it("leave Redis' own errors alone (a wrong type is not an outage)", async () => {
      const client = await sharedClient();
      const keyPrefix = freshPrefix();
      await client.set(`${keyPrefix}ports:{node-1}`, "not a hash");
      const ports = new RedisPortLeases(client, { keyPrefix });
      const err = await ports.list("node-1").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(BackendUnavailableError);
      expect((err as Error).message).toMatch(/WRONGTYPE/);
    });

    it("allocate() over 4 connections at once: the pool filled exactly, no port granted twice", async () => {
      const keyPrefix = freshPrefix();
      const clients = await Promise.all(Array.from({ length: 4 }, () => connectedClient(url)));
      try {
        const range = { start: 3390, end: 3489 };
        const grants: { port: number; owner: string }[] = [];
        let refused = 0;
        // Each connection allocates until the pool is full, all starting near the same offsets;
        // bounded, so that a broken allocate fails the test instead of looping.
        await Promise.all(
          clients.map(async (client, c) => {
            const ports = new RedisPortLeases(client, { keyPrefix });
            for (let k = 0; k <= 100; k++) {
              const owner = `server-${c}-${k}`;
              const port = await ports.allocate("node-1", range, owner, { offset: k % 7 });
              if (port === undefined) {
                refused++;
                return;
              }
              grants.push({ port, owner });
            }
          }),
        );
        expect(refused).toBe(4);
        expect(grants).toHaveLength(100);
        expect(new Set(grants.map((g) => g.port)).size).toBe(100);
        const held = await new RedisPortLeases(clients[0]!, { keyPrefix }).list("node-1");
        expect(held).toEqual(
          new Map(grants.map((g) => [g.port, g.owner] as const).sort(([a], [b]) => a - b)),
        );
      } finally {
        for (const client of clients) client.disconnect();
      }
    });

    it("trims approximately by default: the stream stays bounded near maxLen", async () => {
      const client = await sharedClient();
      const bus = new RedisEventBus(client, { keyPrefix: freshPrefix(), maxLen: 20 });
      for (let i = 0; i < 500; i++) {
        await bus.publish({ type: "server.updated", subject: `s-${i}`, data: i });
      }
      const retained = await bus.read("server", { count: 1_000 });
      // MAXLEN ~ removes whole radix-tree nodes (100 entries by default) and never goes below 20.
      expect(retained.length).toBeGreaterThanOrEqual(20);
      expect(retained.length).toBeLessThanOrEqual(20 + 100);
      expect(retained.at(-1)!.data).toBe(499);
    });
  });

  describe("LeaderElector (redis)", () => {
    it("hands leadership over when the leader stops, with a larger fence", async () => {
      const client = await sharedClient();
      const elector = new LeaderElector(
        new RedisLeaseManager(client, { keyPrefix: freshPrefix() }),
      );
      const terms: { who: "a" | "b"; lease: Lease }[] = [];
      const stops = { a: new AbortController(), b: new AbortController() };
      const campaigns = (["a", "b"] as const).map((who) =>
        elector.runAsLeader("reaper", {
          ttlMs: 2_000,
          renewEveryMs: 50,
          retryEveryMs: 25,
          signal: stops[who].signal,
          onElected: (lease) => {
            terms.push({ who, lease });
          },
        }),
      );
      const first = await eventually(async () => terms[0], "a leader");
      expect(terms).toHaveLength(1);
      stops[first.who].abort();
      const second = await eventually(async () => terms[1], "the other to take over");
      expect(second.who).not.toBe(first.who);
      expect(second.lease.fence).toBeGreaterThan(first.lease.fence);
      stops[second.who].abort();
      await Promise.all(campaigns);
    });
  });

  describe("outage", () => {
    let client: Redis;
    beforeAll(async () => {
      client = await connectedClient(url);
    });
    afterAll(async () => {
      client.disconnect();
    });

    it("fails calls with BackendUnavailableError while Redis is down; the same client recovers", async () => {
      const redis = server!;
      const { leases, ports, counters, bus } = createRedisCoordination(client, {
        keyPrefix: freshPrefix(),
      });
      const check = redisCheck(client);
      await check.check(AbortSignal.timeout(5_000));
      expect(await leases.acquire("reaper", 60_000)).toBeDefined();

      // A live subscription, to see it end when the server goes away.
      const stop = new AbortController();
      const events: BusEvent[] = [];
      const iterator = bus.subscribe("session", { signal: stop.signal })[Symbol.asyncIterator]();
      const firstStep = iterator.next();
      await eventually(async () => {
        await bus.publish({ type: "session.marker", subject: "m", data: {} });
        return Promise.race([firstStep, Promise.resolve(undefined)]);
      }, "the subscription to be live");
      // Settles with how the subscription ended (a rejection is kept, not left unhandled).
      const ended = (async () => {
        for (;;) {
          const step = await iterator.next();
          if (step.done) return;
          events.push(step.value);
        }
      })().then(
        () => "done",
        (e: unknown) => e,
      );

      await redis.stop();

      // A deadline far above what a fail-fast call needs: the error must be the outage, not it.
      const signal = AbortSignal.timeout(10_000);
      const calls: Promise<unknown>[] = [
        leases.acquire("timers", 60_000, { signal }),
        ports.claim("node-1", 3390, "instance-a", { signal }),
        ports.allocate("node-1", { start: 3390, end: 3489 }, "instance-a", { signal }),
        counters.tryIncrement("cap", 10, { signal }),
        bus.publish({ type: "session.created", subject: "s", data: {} }, { signal }),
        bus.read("session", { signal }),
        check.check(signal),
      ];
      for (const call of calls) {
        const err = await call.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(BackendUnavailableError);
        expect((err as Error).message).toBe("redis is unavailable");
      }
      expect(await ended).toBeInstanceOf(BackendUnavailableError);
      expect(events.every((e) => e.type === "session.marker")).toBe(true);
      stop.abort();

      await redis.start();
      await eventually(
        () => check.check(AbortSignal.timeout(1_000)).then(() => true),
        "PING to succeed again",
      );
      // The server came back empty (no persistence): the lease is free again.
      const lease = await leases.acquire("reaper", 60_000);
      expect(lease).toBeDefined();
      expect(await leases.isCurrent(lease!)).toBe(true);
      expect(await counters.tryIncrement("cap", 10)).toEqual({ ok: true, value: 1 });
      const id = await bus.publish({ type: "session.created", subject: "s", data: {} });
      expect((await bus.read("session")).map((e) => e.id)).toEqual([id]);
    });
  });
}
