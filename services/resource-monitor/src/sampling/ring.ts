/**
 * A bounded ring buffer: the history of one series ("the last N minutes") kept in memory, without
 * a database. Pushing into a full ring overwrites its oldest value, so memory stays at `capacity`
 * values however long the service runs: 15 minutes at a 5 s interval is a capacity of 180.
 */
export class Ring<T> {
  readonly capacity: number;
  private readonly values: T[] = [];
  /** Index of the oldest value once the ring is full (then also where the next push goes). */
  private start = 0;

  /** @throws RangeError when `capacity` is not a positive integer. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** The number of values held: at most `capacity`. */
  get size(): number {
    return this.values.length;
  }

  /** Appends `value` as the newest, dropping the oldest when the ring is full. */
  push(value: T): void {
    if (this.values.length < this.capacity) {
      this.values.push(value);
      return;
    }
    this.values[this.start] = value;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The newest value; undefined when the ring is empty. */
  latest(): T | undefined {
    if (this.values.length === 0) return undefined;
    return this.values[(this.start + this.values.length - 1) % this.values.length];
  }

  /** Every value, oldest first, as a new array. */
  toArray(): T[] {
    return [...this.values.slice(this.start), ...this.values.slice(0, this.start)];
  }

  /**
   * The values whose time (`timeOf`) is at or after `t`, oldest first: `since(now - 5 * 60_000,
   * (s) => s.time)` is the last five minutes. Every value is tested, not only the newest ones, so
   * the answer stays right when the clock stepped back between two pushes.
   */
  since(t: number, timeOf: (value: T) => number): T[] {
    return this.toArray().filter((value) => timeOf(value) >= t);
  }

  /** Drops every value. */
  clear(): void {
    this.values.length = 0;
    this.start = 0;
  }
}
