/**
 * The event bus in process memory, with the semantics of the Redis adapter: ids `<ms>-<seq>` as
 * Redis issues them, a bounded length per family (trimmed exactly), the same cursor errors, and live
 * delivery woken by an EventEmitter. Data is stored as JSON, so readers get copies, as from Redis.
 */
import { EventEmitter } from "node:events";
import { assertName, assertPositive } from "./arguments.js";
import {
  assertFamily,
  checkCursor,
  compareEventIds,
  type EventId,
  familyOf,
  formatEventId,
  parseCursor,
} from "./event-ids.js";
import type {
  BusEvent,
  CallOptions,
  EventBus,
  EventFamily,
  NewBusEvent,
  ReadOptions,
  SubscribeOptions,
} from "./ports.js";
import { PUBLISH_KEY_TTL_MS } from "./publish-keys.js";

export interface MemoryEventBusOptions {
  /** The length each family's stream is trimmed to (exactly). @default 10000 */
  readonly maxLen?: number;
  /** The clock for ids and default event times, in epoch ms. @default Date.now */
  readonly now?: () => number;
}

interface Entry {
  readonly id: EventId;
  readonly type: string;
  readonly subject: string;
  readonly time: string;
  readonly data: string;
}

interface Stream {
  readonly entries: Entry[];
  last: EventId;
  added: number;
}

const BATCH = 100;

/** The memory adapter of `EventBus`. */
export class MemoryEventBus implements EventBus {
  private readonly maxLen: number;
  private readonly now: () => number;
  private readonly streams = new Map<EventFamily, Stream>();
  private readonly published = new EventEmitter().setMaxListeners(0);
  /** Publish keys (NewBusEvent.key) per family and stream: the id and when it was published. */
  private readonly keys = new Map<string, { id: string; at: number }>();

  constructor(opts: MemoryEventBusOptions = {}) {
    this.maxLen = opts.maxLen ?? 10_000;
    assertPositive("maxLen", this.maxLen);
    this.now = opts.now ?? Date.now;
  }

  async publish<T>(event: NewBusEvent<T>, opts?: CallOptions): Promise<string> {
    const family = familyOf(event.type);
    assertName("subject", event.subject);
    opts?.signal?.throwIfAborted();
    let keyOf: string | undefined;
    if (event.key !== undefined) {
      assertName("key", event.key);
      keyOf = `${family}\u0000${event.key}`;
      const seen = this.keys.get(keyOf);
      if (seen !== undefined && this.now() - seen.at < PUBLISH_KEY_TTL_MS) return seen.id;
    }
    const stream = this.stream(family);
    const ms = BigInt(this.now());
    const id =
      ms > stream.last.ms ? { ms, seq: 0n } : { ms: stream.last.ms, seq: stream.last.seq + 1n };
    stream.entries.push({
      id,
      type: event.type,
      subject: event.subject,
      time: (event.time ?? new Date(Number(ms))).toISOString(),
      data: JSON.stringify(event.data ?? null),
    });
    stream.last = id;
    stream.added++;
    if (stream.entries.length > this.maxLen) {
      stream.entries.splice(0, stream.entries.length - this.maxLen);
    }
    this.published.emit(family);
    const formatted = formatEventId(id);
    if (keyOf !== undefined) this.remember(keyOf, formatted);
    return formatted;
  }

  /** Remembers a publish key, forgetting keys older than the TTL (as Redis expires them). */
  private remember(keyOf: string, id: string): void {
    const now = this.now();
    if (this.keys.size >= 1024) {
      for (const [k, v] of this.keys) {
        if (now - v.at < PUBLISH_KEY_TTL_MS) break; // insertion order is publish order
        this.keys.delete(k);
      }
    }
    this.keys.set(keyOf, { id, at: now });
  }

  async read(family: EventFamily, opts: ReadOptions = {}): Promise<BusEvent[]> {
    assertFamily(family);
    const count = opts.count ?? 100;
    assertPositive("count", count);
    if (opts.after !== undefined) parseCursor(family, opts.after);
    opts.signal?.throwIfAborted();
    return this.readAfter(family, opts.after, count);
  }

  async lastEventId(family: EventFamily, opts?: CallOptions): Promise<string> {
    assertFamily(family);
    opts?.signal?.throwIfAborted();
    return formatEventId(this.stream(family).last);
  }

  subscribe(family: EventFamily, opts: SubscribeOptions): AsyncIterable<BusEvent> {
    assertFamily(family);
    return this.follow(family, opts);
  }

  private async *follow(family: EventFamily, opts: SubscribeOptions): AsyncGenerator<BusEvent> {
    const { signal } = opts;
    if (opts.after !== undefined) parseCursor(family, opts.after);
    let cursor = opts.after ?? formatEventId(this.stream(family).last);
    while (!signal.aborted) {
      // Reading and waiting happen in one synchronous step, so no publish can slip between them.
      const page = this.readAfter(family, cursor, BATCH);
      if (page.length === 0) {
        await this.nextPublish(family, signal);
        continue;
      }
      for (const event of page) {
        yield event;
        cursor = event.id;
      }
    }
  }

  /** Events after the (checked) cursor, or from the oldest retained. */
  private readAfter(family: EventFamily, after: string | undefined, count: number): BusEvent[] {
    const stream = this.stream(family);
    let from = 0;
    if (after !== undefined) {
      const cursor = checkCursor(family, after, {
        last: stream.last,
        first: stream.entries[0]?.id,
        trimmed: stream.added > stream.entries.length,
      });
      from = stream.entries.findIndex((e) => compareEventIds(e.id, cursor) > 0);
      if (from < 0) return [];
    }
    return stream.entries.slice(from, from + count).map(toEvent);
  }

  /** Resolves at the next publish to the family, or when the signal aborts. */
  private nextPublish(family: EventFamily, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.published.off(family, done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.published.on(family, done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private stream(family: EventFamily): Stream {
    let stream = this.streams.get(family);
    if (!stream) {
      stream = { entries: [], last: { ms: 0n, seq: 0n }, added: 0 };
      this.streams.set(family, stream);
    }
    return stream;
  }
}

function toEvent(entry: Entry): BusEvent {
  return {
    id: formatEventId(entry.id),
    type: entry.type,
    subject: entry.subject,
    time: new Date(entry.time),
    data: JSON.parse(entry.data) as unknown,
  };
}
