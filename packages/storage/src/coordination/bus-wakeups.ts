/**
 * Wake-ups for code that waits on a record's state (StartInstance until the instance is READY,
 * CreateSession until the session is READY): the services publish every state change on the bus,
 * so a wait can sleep until an event about its record arrives and re-read the record then, instead
 * of re-reading it on a fixed short interval. The record stays the truth; an event only says "read
 * it again now". A waiter still re-reads on a slow timer of its own, so an event that never
 * arrives (the bus was down when it was published, or the subscription was restarting) costs at
 * most that interval, never the whole wait.
 *
 * One subscription per family and process serves every wait: a subscription holds a connection
 * of its own on Redis (its blocking read), which a wait per call would multiply.
 */
import { CursorOutOfRangeError } from "./errors.js";
import type { EventBus, EventFamily } from "./ports.js";

/** How a {@link Wakeup.next} call ended. */
export type WakeupReason = "event" | "timeout" | "aborted";

/** The wake-ups of one subject; one {@link Wakeup.next} call at a time. */
export interface Wakeup {
  /**
   * Resolves "event" at once when an event about the subject arrived since {@link BusWakeups.watch}
   * or the previous call, else at the next such event; "timeout" after `timeoutMs` (0 or less: on
   * the next turn of the event loop); "aborted" when `signal` aborts (at once if it already has).
   * A restart of the shared subscription also counts as an event: events may have been missed.
   */
  next(timeoutMs: number, signal?: AbortSignal): Promise<WakeupReason>;
  /** Stops the wake-ups; a pending {@link Wakeup.next} still ends by its timeout or signal. */
  close(): void;
}

/** Options of {@link BusWakeups}. */
export interface BusWakeupsOptions {
  readonly bus: EventBus;
  /** The family whose events are followed; the events' subjects are what waiters watch. */
  readonly family: EventFamily;
  /** Told when the subscription failed and is started again after `retryInMs`. */
  readonly onError?: (error: unknown, retryInMs: number) => void;
  /**
   * The first delay before subscribing again after a failure, doubled after each failure in a
   * row up to {@link BusWakeupsOptions.maxRetryMs}.
   * @default 250
   */
  readonly retryMs?: number;
  /** @default 5000 */
  readonly maxRetryMs?: number;
}

/** Options of {@link BusWakeups.waitUntil}. */
export interface WaitUntilOptions<T> {
  /** How long to wait at most, on `clock`; 0 reads once. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** The clock the timeout is measured on (the service's injected clock). @default real time */
  readonly clock?: () => Date;
  /** Settles when the wait should read again at once (e.g. the call's own attempt ended). */
  readonly interrupt?: Promise<unknown>;
  /** Runs after every read; throws to end the wait with that error. */
  readonly check?: (record: T) => void;
}

/**
 * The re-read interval that stands behind the wake-ups: how long a wait goes without news before it
 * reads its record anyway.
 */
export const WAKEUP_RECHECK_MS = 1_000;

/** Wakes waiters on events about their subject, from one shared subscription to a family. */
export class BusWakeups {
  private readonly waiters = new Map<string, Set<SubjectWakeup>>();
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private stop: AbortController | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: BusWakeupsOptions) {
    this.retryMs = opts.retryMs ?? 250;
    this.maxRetryMs = opts.maxRetryMs ?? 5_000;
  }

  /**
   * Starts following the family (idempotent; {@link BusWakeups.watch} starts it too). Start it
   * before the first wait: events published before the subscription is live reach no one, and a
   * wait that misses its event falls back to its slow re-read.
   */
  start(): void {
    if (this.running !== undefined || this.closed) return;
    const stop = new AbortController();
    this.stop = stop;
    this.running = this.follow(stop.signal);
  }

  /** Wake-ups for `subject` from now on; close it when the wait is over. */
  watch(subject: string): Wakeup {
    this.start();
    const wakeup = new SubjectWakeup(() => {
      const set = this.waiters.get(subject);
      set?.delete(wakeup);
      if (set?.size === 0) this.waiters.delete(subject);
    });
    let set = this.waiters.get(subject);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(subject, set);
    }
    set.add(wakeup);
    return wakeup;
  }

  /**
   * THE wait-for-state loop of the services (CreateSession until its session is READY, CreateServer
   * until its server leaves PROVISIONING, StartInstance until its instance settles): reads the
   * record, and while `pending(record)` holds, sleeps until an event about `subject` arrives (at
   * most {@link WAKEUP_RECHECK_MS}) and reads it again. Ends with the last record read once it is
   * no longer pending, `timeoutMs` has passed on `clock`, or `signal` aborted. Watched before the
   * first read, so a change between a read and the wait still wakes it. `interrupt`, when it
   * settles, wakes the wait early (it is then re-read and `check`ed).
   * @param check - runs after every read; throws to end the wait with that error.
   */
  async waitUntil<T>(
    subject: string,
    read: () => Promise<T>,
    pending: (record: T) => boolean,
    opts: WaitUntilOptions<T>,
  ): Promise<T> {
    const clock = opts.clock ?? (() => new Date());
    const deadline = clock().getTime() + opts.timeoutMs;
    const wakeup = this.watch(subject);
    try {
      let record = await read();
      opts.check?.(record);
      while (pending(record) && !opts.signal?.aborted) {
        const left = deadline - clock().getTime();
        if (left <= 0) break;
        const next = wakeup.next(Math.min(WAKEUP_RECHECK_MS, left), opts.signal);
        await (opts.interrupt ? Promise.race([next, opts.interrupt]) : next);
        record = await read();
        opts.check?.(record);
      }
      return record;
    } finally {
      wakeup.close();
    }
  }

  /** Ends the subscription; waits already under way go on with their re-reads alone. */
  async close(): Promise<void> {
    this.closed = true;
    this.stop?.abort();
    await this.running;
  }

  private async follow(signal: AbortSignal): Promise<void> {
    let after: string | undefined;
    let delay = this.retryMs;
    while (!signal.aborted) {
      try {
        for await (const event of this.opts.bus.subscribe(this.opts.family, { after, signal })) {
          after = event.id;
          delay = this.retryMs;
          for (const w of this.waiters.get(event.subject) ?? []) w.notify();
        }
        return; // the iteration ends only when the signal aborts
      } catch (error) {
        if (signal.aborted) return;
        // Trimmed past our cursor: resume from the newest event; the wake-all below covers the gap.
        if (error instanceof CursorOutOfRangeError) after = undefined;
        try {
          this.opts.onError?.(error, delay);
        } catch {
          // A failing reporter must not end the wake-ups.
        }
        // Whatever was published while the subscription was down may not be replayed (no cursor
        // yet, or trimmed): every waiter re-reads now rather than at its next slow re-read.
        for (const set of this.waiters.values()) for (const w of set) w.notify();
        await pause(delay, signal);
        delay = Math.min(delay * 2, this.maxRetryMs);
      }
    }
  }
}

class SubjectWakeup implements Wakeup {
  private pending = false;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(private readonly onClose: () => void) {}

  notify(): void {
    if (this.wake !== undefined) this.wake();
    else this.pending = true;
  }

  next(timeoutMs: number, signal?: AbortSignal): Promise<WakeupReason> {
    if (signal?.aborted) return Promise.resolve("aborted");
    if (this.pending) {
      this.pending = false;
      return Promise.resolve("event");
    }
    return new Promise((resolve) => {
      const finish = (reason: WakeupReason) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.wake = undefined;
        resolve(reason);
      };
      const onAbort = () => finish("aborted");
      const timer = setTimeout(() => finish("timeout"), Math.max(0, timeoutMs));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.wake = () => finish("event");
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
