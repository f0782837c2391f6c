/**
 * Leases in process memory, with the semantics of the Redis adapter: an expired lease is absent,
 * every acquisition takes the next fence of its name, renew and release compare the token.
 */
import { assertName, assertTtl } from "./arguments.js";
import { LeaseLostError } from "./errors.js";
import { newLeaseToken } from "./lease-token.js";
import type { CallOptions, Lease, LeaseManager } from "./ports.js";

export interface MemoryLeaseManagerOptions {
  /** The clock, in epoch milliseconds; tests pass a controllable one. @default Date.now */
  readonly now?: () => number;
}

interface Held {
  readonly token: string;
  expiresAtMs: number;
}

/** The memory adapter of `LeaseManager`. */
export class MemoryLeaseManager implements LeaseManager {
  private readonly now: () => number;
  private readonly held = new Map<string, Held>();
  private readonly fences = new Map<string, number>();

  constructor(opts: MemoryLeaseManagerOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async acquire(name: string, ttlMs: number, opts?: CallOptions): Promise<Lease | undefined> {
    assertName("name", name);
    assertTtl(ttlMs);
    opts?.signal?.throwIfAborted();
    if (this.live(name)) return undefined;
    const token = newLeaseToken();
    const expiresAtMs = this.now() + ttlMs;
    const fence = (this.fences.get(name) ?? 0) + 1;
    this.fences.set(name, fence);
    this.held.set(name, { token, expiresAtMs });
    return { name, token, fence, expiresAt: new Date(expiresAtMs) };
  }

  async renew(lease: Lease, ttlMs: number, opts?: CallOptions): Promise<boolean> {
    assertTtl(ttlMs);
    opts?.signal?.throwIfAborted();
    const held = this.live(lease.name);
    if (held?.token !== lease.token) return false;
    held.expiresAtMs = this.now() + ttlMs;
    return true;
  }

  async release(lease: Lease, opts?: CallOptions): Promise<boolean> {
    opts?.signal?.throwIfAborted();
    if (this.live(lease.name)?.token !== lease.token) return false;
    this.held.delete(lease.name);
    return true;
  }

  async isCurrent(lease: Lease, opts?: CallOptions): Promise<boolean> {
    opts?.signal?.throwIfAborted();
    return (
      this.live(lease.name)?.token === lease.token && this.fences.get(lease.name) === lease.fence
    );
  }

  async assertCurrent(lease: Lease, opts?: CallOptions): Promise<void> {
    if (!(await this.isCurrent(lease, opts))) throw new LeaseLostError(lease.name, lease.fence);
  }

  /** The unexpired holder of the name, dropping an expired one (as Redis expires keys). */
  private live(name: string): Held | undefined {
    const held = this.held.get(name);
    if (held && held.expiresAtMs <= this.now()) {
      this.held.delete(name);
      return undefined;
    }
    return held;
  }
}
