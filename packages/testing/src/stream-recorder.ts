/** A server-streaming call read in the background, for tests that wait for its events. */

/** What a {@link StreamRecorder} passes to the call it opens. */
export interface StreamCallOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/**
 * Reads the stream `open` returns until it ends, fails or {@link StreamRecorder.stop} cancels it,
 * collecting its events in order. A failure after stop() is not one. The call may last 30 minutes.
 */
export class StreamRecorder<E> {
  /** The events so far, in the order they came. */
  readonly events: E[] = [];
  /** Why the stream failed; undefined while it has not. */
  failure: unknown;
  /** Whether the server ended the stream. */
  ended = false;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(open: (opts: StreamCallOptions) => AsyncIterable<E>) {
    this.done = this.run(open);
  }

  private async run(open: (opts: StreamCallOptions) => AsyncIterable<E>): Promise<void> {
    try {
      for await (const event of open({ signal: this.abort.signal, timeoutMs: 30 * 60_000 })) {
        this.events.push(event);
      }
      this.ended = true;
    } catch (e) {
      if (!this.abort.signal.aborted) this.failure = e;
    }
  }

  /** Cancels the stream (as a client that goes away) and resolves once reading it is over. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
