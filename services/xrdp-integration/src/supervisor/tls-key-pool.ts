/**
 * A few instance keys generated ahead of time. Every instance gets a certificate of its own on an
 * RSA-3072 key, and finding the primes takes most of a second (up to two on a busy host): the
 * largest part of starting an instance. The pool takes that off the request path without sharing
 * anything between instances: each key is handed out once, then dropped from the pool, and
 * exists only in this process's memory until its instance writes it (0600) into its own TLS
 * directory.
 *
 * Keys are generated one at a time, in the background, on libuv's thread pool (node:crypto's
 * asynchronous generateKeyPair): a refill never blocks the event loop and takes at most one core.
 * A failed generation is logged and retried with exponential backoff. An instance that finds the
 * pool empty generates its own key, as it would without a pool.
 */
import type { KeyObject } from "node:crypto";
import type { Logger } from "@lucid-rdp/runtime";
import { generateInstanceKey } from "../host/tls-material-files.js";

/** Options of {@link TlsKeyPool}. */
export interface TlsKeyPoolOptions {
  /** How many keys to keep ready (XRDP_TLS_KEY_POOL); 0 turns the pool off. */
  readonly size: number;
  readonly logger: Pick<Logger, "warn" | "info">;
  /**
   * Makes one key.
   * @default generateInstanceKey (RSA 3072)
   */
  readonly generate?: () => Promise<KeyObject>;
  /**
   * The delay before trying again after a failed generation, doubled after each failure in a row.
   * @default 1000
   */
  readonly retryMs?: number;
  /** @default 60000 */
  readonly maxRetryMs?: number;
}

/** Pre-generated instance keys, each handed out once. */
export class TlsKeyPool {
  private readonly keys: KeyObject[] = [];
  private readonly generate: () => Promise<KeyObject>;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private generating = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly opts: TlsKeyPoolOptions) {
    if (!Number.isSafeInteger(opts.size) || opts.size < 0) {
      throw new RangeError(`size must be a non-negative integer, got ${opts.size}`);
    }
    this.generate = opts.generate ?? generateInstanceKey;
    this.retryMs = opts.retryMs ?? 1_000;
    this.maxRetryMs = opts.maxRetryMs ?? 60_000;
  }

  /** Keys ready to be taken. */
  get available(): number {
    return this.keys.length;
  }

  /** Starts filling the pool (idempotent; does nothing when the size is 0 or after close). */
  start(): void {
    this.started = true;
    this.fill();
  }

  /**
   * A ready key, removed from the pool so that no one else gets it, or undefined when none is
   * ready (the caller generates its own). Starts a refill.
   */
  take(): KeyObject | undefined {
    const key = this.keys.shift();
    if (key === undefined && this.started && !this.closed && this.opts.size > 0) {
      this.opts.logger.info(
        { poolSize: this.opts.size },
        "TLS key pool empty: this instance generates its own key",
      );
    }
    this.fill();
    return key;
  }

  /**
   * Stops refilling and drops the ready keys. Returns at once: a generation under way cannot be
   * cancelled (it runs on the thread pool), so its key is dropped when it ends.
   */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.keys.length = 0;
  }

  private fill(): void {
    if (
      !this.started ||
      this.closed ||
      this.generating ||
      this.retryTimer !== undefined ||
      this.keys.length >= this.opts.size
    ) {
      return;
    }
    this.generating = true;
    let made: Promise<KeyObject>;
    try {
      made = this.generate();
    } catch (e) {
      made = Promise.reject(e);
    }
    made.then(
      (key) => {
        this.generating = false;
        if (this.closed) return;
        this.failures = 0;
        this.keys.push(key);
        this.fill();
      },
      (e: unknown) => {
        this.generating = false;
        if (this.closed) return;
        const retryInMs = Math.min(this.retryMs * 2 ** this.failures, this.maxRetryMs);
        this.failures++;
        this.opts.logger.warn(
          { err: e, retryInMs, failures: this.failures },
          "generating a TLS key for the pool failed",
        );
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.fill();
        }, retryInMs);
        // A pending retry must not keep the process alive on its own.
        this.retryTimer.unref();
      },
    );
  }
}
