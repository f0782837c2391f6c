/**
 * The contract of `EventBus`, run against every adapter. The adapters under test must trim each
 * stream to exactly {@link EVENT_BUS_CONTRACT_MAX_LEN} events (the Redis fixture uses its "exact"
 * trimming: `MAXLEN ~` keeps an unpredictable surplus, so exact retention could not be asserted).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type BusEvent,
  CursorOutOfRangeError,
  type EventBus,
  InvalidCursorError,
  InvalidEventTypeError,
  parseEventId,
} from "../../src/coordination/index.js";
import { type ContractFixture, eventually, type MakeFixture } from "./fixture.js";

/** The stream length the fixtures configure. Above one subscription page (100 events). */
export const EVENT_BUS_CONTRACT_MAX_LEN = 150;
const MAX = EVENT_BUS_CONTRACT_MAX_LEN;

/** Iterates a subscription in the background, collecting its events and how it ended. */
function collect(iterable: AsyncIterable<BusEvent>) {
  const events: BusEvent[] = [];
  const ended = (async () => {
    for await (const event of iterable) events.push(event);
  })();
  return { events, ended };
}

function ids(events: readonly BusEvent[]): string[] {
  return events.map((e) => e.id);
}

export function describeEventBusContract(name: string, make: MakeFixture<EventBus>) {
  describe(`EventBus (${name})`, () => {
    let fx: ContractFixture<EventBus>;
    let bus: EventBus;
    const controllers: AbortController[] = [];
    beforeEach(async () => {
      fx = await make();
      bus = fx.impl;
    });
    afterEach(async () => {
      for (const c of controllers.splice(0)) c.abort();
      await fx.close();
    });

    function controller(): AbortController {
      const c = new AbortController();
      controllers.push(c);
      return c;
    }

    async function publishMany(n: number, type = "session.updated"): Promise<string[]> {
      const published: string[] = [];
      for (let i = 0; i < n; i++) {
        published.push(await bus.publish({ type, subject: `s-${i}`, data: { i } }));
      }
      return published;
    }

    describe("lastEventId()", () => {
      it("is 0-0 for an empty family and the newest id after publishing", async () => {
        expect(await bus.lastEventId("alert")).toBe("0-0");
        const ids = await publishMany(3);
        expect(await bus.lastEventId("session")).toBe(ids[2]);
        // A client that lists, then watches from lastEventId, sees exactly what came after.
        const after = await bus.lastEventId("session");
        const [next] = await publishMany(1);
        expect((await bus.read("session", { after })).map((e) => e.id)).toEqual([next]);
      });
    });

    describe("publish()", () => {
      it("returns increasing <ms>-<seq> ids; read() returns the events in order, fields intact", async () => {
        const time = new Date("2030-05-06T07:08:09.123Z");
        const a = await bus.publish({
          type: "session.created",
          subject: "session-1",
          data: { user: "alice", nested: { ports: [3390, 3391] } },
          time,
        });
        const b = await bus.publish({ type: "session.ended", subject: "session-1", data: null });
        const c = await bus.publish({ type: "session.created", subject: "session-2", data: "x" });
        for (const id of [a, b, c]) expect(id).toMatch(/^\d+-\d+$/);
        const [pa, pb, pc] = [a, b, c].map((id) => parseEventId(id)!);
        expect(pa!.ms < pb!.ms || (pa!.ms === pb!.ms && pa!.seq < pb!.seq)).toBe(true);
        expect(pb!.ms < pc!.ms || (pb!.ms === pc!.ms && pb!.seq < pc!.seq)).toBe(true);

        const events = await bus.read("session");
        expect(ids(events)).toEqual([a, b, c]);
        expect(events[0]).toEqual({
          id: a,
          type: "session.created",
          subject: "session-1",
          time,
          data: { user: "alice", nested: { ports: [3390, 3391] } },
        });
        expect(events[1]!.data).toBeNull();
        expect(events[2]!.data).toBe("x");
      });

      it("stamps the time of publishing when none is given", async () => {
        const before = fx.now();
        await bus.publish({ type: "alert.fired", subject: "alert-1", data: {} });
        const [event] = await bus.read("alert");
        expect(event!.time.getTime()).toBeGreaterThanOrEqual(before);
        expect(event!.time.getTime()).toBeLessThanOrEqual(fx.now());
      });

      it("publishes an event with a key once: a repeat, even concurrent, returns the first id", async () => {
        const event = { type: "session.state_changed", subject: "s-1", data: { n: 1 }, key: "k-1" };
        const first = await bus.publish(event);
        const again = await Promise.all(
          Array.from({ length: 5 }, () => bus.publish({ ...event, data: { n: 2 } })),
        );
        expect(again).toEqual(Array(5).fill(first));
        await bus.publish({ ...event, key: "k-2" });
        await bus.publish({ ...event, type: "server.state_changed", subject: "x-1" });
        const events = await bus.read("session");
        expect(events.map((e) => [e.id === first, e.data])).toEqual([
          [true, { n: 1 }],
          [false, { n: 1 }],
        ]);
        expect(await bus.read("server")).toHaveLength(1);
      });

      it("keeps the families apart", async () => {
        await bus.publish({ type: "server.registered", subject: "server-1", data: {} });
        await bus.publish({ type: "instance.started", subject: "instance-1", data: {} });
        expect(await bus.read("session")).toEqual([]);
        expect((await bus.read("server")).map((e) => e.type)).toEqual(["server.registered"]);
        expect((await bus.read("instance")).map((e) => e.type)).toEqual(["instance.started"]);
      });

      it("rejects a type that does not start with a known family and a dot", async () => {
        for (const type of ["created", "user.created", "session.", ".created", "sessions.x"]) {
          await expect(bus.publish({ type, subject: "x", data: {} })).rejects.toThrow(
            InvalidEventTypeError,
          );
        }
      });

      it(`trims each stream to its bounded length (${MAX})`, async () => {
        const published = await publishMany(MAX + 10);
        const retained = await bus.read("session", { count: 10 * MAX });
        expect(ids(retained)).toEqual(published.slice(10));
      });
    });

    describe("read()", () => {
      it("returns exactly the events after the cursor, at most count of them", async () => {
        const published = await publishMany(10);
        expect(ids(await bus.read("session", { after: published[3] }))).toEqual(published.slice(4));
        expect(ids(await bus.read("session", { after: published[3], count: 2 }))).toEqual(
          published.slice(4, 6),
        );
        expect(ids(await bus.read("session", { count: 3 }))).toEqual(published.slice(0, 3));
        expect(await bus.read("session", { after: published[9] })).toEqual([]);
        expect(ids(await bus.read("session", { after: "0-0" }))).toEqual(published);
      });

      it("throws CursorOutOfRangeError for a cursor older than the retained events", async () => {
        const published = await publishMany(MAX + 10);
        await expect(bus.read("session", { after: published[5] })).rejects.toThrow(
          CursorOutOfRangeError,
        );
        await expect(bus.read("session", { after: "0-0" })).rejects.toThrow(CursorOutOfRangeError);
        // From the oldest retained event on, resuming loses nothing.
        expect(ids(await bus.read("session", { after: published[10], count: 10 * MAX }))).toEqual(
          published.slice(11),
        );
      });

      it("throws CursorOutOfRangeError for a cursor never issued", async () => {
        await expect(bus.read("session", { after: "1-0" })).rejects.toThrow(CursorOutOfRangeError);
        const [last] = (await publishMany(1)).map((id) => parseEventId(id)!);
        const later = `${last!.ms}-${last!.seq + 1n}`;
        await expect(bus.read("session", { after: later })).rejects.toThrow(CursorOutOfRangeError);
        await expect(bus.read("session", { after: `${last!.ms + 1000n}-0` })).rejects.toThrow(
          CursorOutOfRangeError,
        );
      });

      it("throws InvalidCursorError for a malformed cursor", async () => {
        await publishMany(1);
        for (const after of [
          "garbage",
          "",
          "12",
          "1-2-3",
          "-1-0",
          "1-x",
          "99999999999999999999-0",
        ]) {
          await expect(bus.read("session", { after })).rejects.toThrow(InvalidCursorError);
        }
      });
    });

    describe("subscribe()", () => {
      it("replays after the cursor, then follows live, without gaps or duplicates", async () => {
        const published = await publishMany(110);
        const ctl = controller();
        const sub = collect(bus.subscribe("session", { after: published[4], signal: ctl.signal }));
        // Publish while the replay runs (the first events are arriving), then more once it is live.
        await eventually(async () => sub.events.length > 0, "the replay to start");
        published.push(...(await publishMany(20, "session.ended")));
        await eventually(async () => sub.events.length >= 125, "the replay and the first batch");
        published.push(...(await publishMany(10, "session.created")));
        const expected = published.slice(5);
        await eventually(async () => sub.events.length >= expected.length, "every event");
        ctl.abort();
        await sub.ended;
        expect(ids(sub.events)).toEqual(expected);
      });

      it("without a cursor starts at the next event published", async () => {
        const old = await publishMany(3);
        const ctl = controller();
        const sub = collect(bus.subscribe("session", { signal: ctl.signal }));
        // The subscription is in place once one of these markers arrives.
        const published: string[] = [];
        await eventually(async () => {
          published.push(await bus.publish({ type: "session.marker", subject: "m", data: {} }));
          return sub.events.length > 0;
        }, "the subscription to see a marker");
        published.push(...(await publishMany(3, "session.created")));
        await eventually(
          async () => sub.events.at(-1)?.id === published.at(-1),
          "the events after the markers",
        );
        ctl.abort();
        await sub.ended;
        const first = published.indexOf(sub.events[0]!.id);
        expect(first).toBeGreaterThanOrEqual(0);
        expect(ids(sub.events)).toEqual(published.slice(first));
        expect(ids(sub.events).some((id) => old.includes(id))).toBe(false);
      });

      it("ends cleanly when the signal aborts while it waits for live events", async () => {
        const ctl = controller();
        const iterator = bus.subscribe("session", { signal: ctl.signal })[Symbol.asyncIterator]();
        const firstStep = iterator.next();
        const markers: string[] = [];
        const first = await eventually(async () => {
          markers.push(await bus.publish({ type: "session.marker", subject: "m", data: {} }));
          return Promise.race([firstStep, Promise.resolve(undefined)]);
        }, "a live event");
        // Take the markers published after the first delivered one; then nothing is pending.
        const pending = markers.length - 1 - markers.indexOf((first.value as BusEvent).id);
        for (let i = 0; i < pending; i++) expect((await iterator.next()).done).toBe(false);
        const waiting = iterator.next();
        ctl.abort();
        expect(await waiting).toEqual({ done: true, value: undefined });
      });

      it("yields nothing for an already aborted signal", async () => {
        await publishMany(3);
        const sub = collect(
          bus.subscribe("session", { after: "0-0", signal: AbortSignal.abort() }),
        );
        await sub.ended;
        expect(sub.events).toEqual([]);
      });

      it("fails its first step for a cursor out of range or malformed", async () => {
        const published = await publishMany(MAX + 1);
        const signal = controller().signal;
        await expect(
          collect(bus.subscribe("session", { after: published[0], signal })).ended,
        ).rejects.toThrow(CursorOutOfRangeError);
        await expect(
          collect(bus.subscribe("session", { after: "999999999999999-0", signal })).ended,
        ).rejects.toThrow(CursorOutOfRangeError);
        await expect(
          collect(bus.subscribe("session", { after: "not-an-id", signal })).ended,
        ).rejects.toThrow(InvalidCursorError);
      });

      it("fails with CursorOutOfRangeError when it falls behind the retention, skipping nothing", async () => {
        const published = await publishMany(3);
        const ctl = controller();
        const iterator = bus
          .subscribe("session", { after: published[0], signal: ctl.signal })
          [Symbol.asyncIterator]();
        const seen: string[] = [];
        const first = await iterator.next();
        seen.push((first.value as BusEvent).id);
        // The consumer stalls while the stream moves on past its cursor.
        published.push(...(await publishMany(MAX + 5)));
        let failure: unknown;
        for (;;) {
          try {
            const step = await iterator.next();
            if (step.done) break;
            seen.push(step.value.id);
          } catch (err) {
            failure = err;
            break;
          }
        }
        expect(failure).toBeInstanceOf(CursorOutOfRangeError);
        expect(seen).toEqual(published.slice(1, 1 + seen.length));
      });
    });
  });
}
