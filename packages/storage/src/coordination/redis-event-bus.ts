/**
 * The event bus on Redis Streams, one stream per family: `<prefix>events:<family>`. Entries hold
 * the fields type, subject, time (ISO 8601) and data (JSON). Publishing trims the stream to its
 * bounded length (XADD MAXLEN). Reads with a cursor run XRANGE and XINFO in one MULTI, so the range
 * check and the read see the same stream. A subscription follows live with XREAD BLOCK on its own
 * connection (a duplicate of the client), because a blocking read holds its connection.
 *
 * Requires Redis 7.0 or later (XINFO STREAM's entries-added tells whether anything was trimmed).
 */
import type { Redis } from "ioredis";
import { BackendUnavailableError } from "../errors.js";
import { assertName, assertPositive } from "./arguments.js";
import {
  assertFamily,
  checkCursor,
  type EventId,
  familyOf,
  formatEventId,
  parseCursor,
  parseEventId,
  type StreamRange,
  ZERO_EVENT_ID,
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
import {
  COMMAND_TIMEOUT_MS,
  defineScript,
  type RedisScript,
  runRedis,
  wrapRedisErrors,
} from "./redis-client.js";

/**
 * XADD once per key. KEYS[1] the stream, KEYS[2] the key's marker (`{<stream>}:key:<key>`, in the
 * stream's hash slot); ARGV: MAXLEN mode, maxLen, type, subject, time, data, marker TTL (ms).
 * Returns the id of the entry appended now or by the first publish with the key.
 */
const publishOnceLua = `
local seen = redis.call('GET', KEYS[2])
if seen then return seen end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], ARGV[2], '*',
  'type', ARGV[3], 'subject', ARGV[4], 'time', ARGV[5], 'data', ARGV[6])
redis.call('SET', KEYS[2], id, 'PX', ARGV[7])
return id
`;

export interface RedisEventBusOptions {
  /** Prepended to every key. @default "lucid:" */
  readonly keyPrefix?: string;
  /** The length each family's stream is trimmed to. @default 10000 */
  readonly maxLen?: number;
  /**
   * "approximate" trims with `MAXLEN ~` (whole macro nodes, cheap; a stream may keep somewhat more
   * than maxLen entries); "exact" with `MAXLEN =` (exactly maxLen, costlier). @default "approximate"
   */
  readonly trimming?: "approximate" | "exact";
}

/** Events per read while replaying and per blocking read while following. */
const BATCH = 100;

type StreamEntry = [id: string, fields: string[]];

/** The Redis adapter of `EventBus`. */
export class RedisEventBus implements EventBus {
  private readonly prefix: string;
  private readonly maxLen: number;
  private readonly trimming: "~" | "=";

  constructor(
    private readonly client: Redis,
    opts: RedisEventBusOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? "lucid:";
    this.maxLen = opts.maxLen ?? 10_000;
    assertPositive("maxLen", this.maxLen);
    this.trimming = opts.trimming === "exact" ? "=" : "~";
    this.publishOnce = defineScript(client, "lucidPublishOnce", 2, publishOnceLua);
  }

  private readonly publishOnce: RedisScript;

  async publish<T>(event: NewBusEvent<T>, opts?: CallOptions): Promise<string> {
    const family = familyOf(event.type);
    assertName("subject", event.subject);
    const time = (event.time ?? new Date()).toISOString();
    const data = JSON.stringify(event.data ?? null);
    if (event.key !== undefined) {
      assertName("key", event.key);
      const stream = this.key(family);
      const id = await runRedis(opts?.signal, () =>
        this.publishOnce(
          [stream, `{${stream}}:key:${event.key}`],
          [this.trimming, this.maxLen, event.type, event.subject, time, data, PUBLISH_KEY_TTL_MS],
        ),
      );
      if (typeof id !== "string") throw new Error("publish returned no id");
      return id;
    }
    const id = await runRedis(opts?.signal, () =>
      this.client.xadd(
        this.key(family),
        "MAXLEN",
        this.trimming,
        this.maxLen,
        "*",
        "type",
        event.type,
        "subject",
        event.subject,
        "time",
        time,
        "data",
        data,
      ),
    );
    if (id === null) throw new Error("XADD returned no id");
    return id;
  }

  async read(family: EventFamily, opts: ReadOptions = {}): Promise<BusEvent[]> {
    assertFamily(family);
    const count = opts.count ?? 100;
    assertPositive("count", count);
    const key = this.key(family);
    if (opts.after === undefined) {
      const entries = await runRedis(opts.signal, () =>
        this.client.xrange(key, "-", "+", "COUNT", count),
      );
      return entries.map(toEvent);
    }
    const after = formatEventId(parseCursor(family, opts.after));
    const replies = await runRedis(opts.signal, () =>
      this.client.multi().xrange(key, `(${after}`, "+", "COUNT", count).xinfo("STREAM", key).exec(),
    );
    if (!replies) throw new Error("MULTI was aborted");
    const [[rangeError, entries], [infoError, info]] = replies as [
      [Error | null, StreamEntry[]],
      [Error | null, unknown],
    ];
    checkCursor(family, opts.after, toRange(infoError, info));
    if (rangeError) throw rangeError;
    return entries.map(toEvent);
  }

  async lastEventId(family: EventFamily, opts?: CallOptions): Promise<string> {
    assertFamily(family);
    const signal = opts?.signal ?? new AbortController().signal;
    return formatEventId(await this.lastId(this.key(family), signal));
  }

  subscribe(family: EventFamily, opts: SubscribeOptions): AsyncIterable<BusEvent> {
    assertFamily(family);
    return this.follow(family, opts);
  }

  private async *follow(family: EventFamily, opts: SubscribeOptions): AsyncGenerator<BusEvent> {
    const { signal } = opts;
    const blockMs = opts.blockMs ?? 5_000;
    assertPositive("blockMs", blockMs);
    if (opts.after !== undefined) parseCursor(family, opts.after);
    if (signal.aborted) return;
    const key = this.key(family);

    // Replay: checked pages after the cursor until a short page.
    let cursor: string;
    try {
      if (opts.after === undefined) {
        cursor = formatEventId(await this.lastId(key, signal));
      } else {
        cursor = formatEventId(parseCursor(family, opts.after));
        for (;;) {
          const page = await this.read(family, { after: cursor, count: BATCH, signal });
          for (const event of page) {
            yield event;
            cursor = event.id;
          }
          if (page.length < BATCH || signal.aborted) break;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }

    // Live: blocking reads after the cursor on a dedicated connection that never reconnects; an
    // outage ends the subscription with BackendUnavailableError and the consumer resumes.
    if (signal.aborted) return;
    const conn = this.client.duplicate({
      retryStrategy: () => null,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      lazyConnect: false,
      // The client's commandTimeout would cut the blocking read short: allow the block, plus the
      // same margin, so a hung connection still fails.
      commandTimeout: blockMs + COMMAND_TIMEOUT_MS,
    });
    conn.on("error", () => {
      // Reported through the failing command or waitReady; ioredis would print it otherwise.
    });
    const onAbort = () => conn.disconnect();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await waitReady(conn, signal);
      while (!signal.aborted) {
        let entries: StreamEntry[];
        let range: StreamRange;
        try {
          const reply = (await wrapRedisErrors(() =>
            conn.xread("COUNT", BATCH, "BLOCK", blockMs, "STREAMS", key, cursor),
          )) as [string, StreamEntry[]][] | null;
          entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0) continue;
          // Nothing after the cursor may have been trimmed before this read (checked after it:
          // conservative, trimming only moves forward).
          range = await this.range(conn, key);
        } catch (err) {
          if (signal.aborted) return;
          throw err;
        }
        checkCursor(family, cursor, range);
        for (const entry of entries) {
          const event = toEvent(entry);
          yield event;
          cursor = event.id;
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      conn.disconnect();
    }
  }

  private async lastId(key: string, signal: AbortSignal): Promise<EventId> {
    return (await runRedis(signal, () => this.range(this.client, key))).last;
  }

  private async range(conn: Redis, key: string): Promise<StreamRange> {
    try {
      return toRange(null, await wrapRedisErrors(() => conn.xinfo("STREAM", key)));
    } catch (err) {
      return toRange(err, undefined);
    }
  }

  private key(family: EventFamily): string {
    return `${this.prefix}events:${family}`;
  }
}

/** Resolves when the connection is ready; rejects when it ended first; resolves on abort. */
function waitReady(conn: Redis, signal: AbortSignal): Promise<void> {
  if (conn.status === "ready") return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let lastError: unknown;
    const onError = (err: unknown) => {
      lastError = err;
    };
    const done = () => {
      conn.off("ready", onReady);
      conn.off("end", onEnd);
      conn.off("error", onError);
      signal.removeEventListener("abort", onAborted);
    };
    const onReady = () => {
      done();
      resolve();
    };
    const onEnd = () => {
      done();
      if (signal.aborted) resolve();
      else reject(new BackendUnavailableError("redis", lastError));
    };
    const onAborted = () => {
      done();
      resolve();
    };
    conn.on("error", onError);
    conn.once("ready", onReady);
    conn.once("end", onEnd);
    signal.addEventListener("abort", onAborted, { once: true });
  });
}

/** The range of a stream from an XINFO STREAM reply; a missing stream is empty and untrimmed. */
function toRange(error: unknown, info: unknown): StreamRange {
  if (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) {
      return { last: { ms: 0n, seq: 0n }, first: undefined, trimmed: false };
    }
    throw error;
  }
  const fields = new Map<string, unknown>();
  const flat = info as unknown[];
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
  const last = parseEventId(String(fields.get("last-generated-id") ?? ZERO_EVENT_ID));
  const firstEntry = fields.get("first-entry") as StreamEntry | null | undefined;
  const first = firstEntry ? parseEventId(firstEntry[0]) : undefined;
  const length = Number(fields.get("length") ?? 0);
  const added = fields.get("entries-added");
  if (!last) throw new Error("XINFO STREAM returned an unreadable last-generated-id");
  // Before Redis 7.0 there is no entries-added: assume trimmed (cursors before the oldest fail).
  return { last, first, trimmed: added === undefined || Number(added) > length };
}

function toEvent([id, flat]: StreamEntry): BusEvent {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
  return {
    id,
    type: fields.get("type") ?? "",
    subject: fields.get("subject") ?? "",
    time: new Date(fields.get("time") ?? 0),
    data: JSON.parse(fields.get("data") ?? "null") as unknown,
  };
}
