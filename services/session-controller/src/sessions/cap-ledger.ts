/**
 * The cluster-wide session caps (per user, in total) as shared counters: taken before a session is
 * stored, given back when it ends, and recounted from the store when a crash left a counter above
 * the sessions that hold it.
 */
import type { Clock, Logger } from "@lucid-rdp/runtime";
import type { Counters } from "@lucid-rdp/storage";
import {
  CapExceededError,
  type CapLimits,
  type CapToTake,
  capHoldingStates,
  capKeys,
  capsToTake,
} from "../domain/caps.js";
import type { SessionStore } from "../store/stores.js";

/** How long a cap counter must stay above the store, unchanged, before it is recounted. */
export const capDriftMs = 10_000;

/** What the ledger needs. */
export interface CapLedgerOptions {
  readonly store: SessionStore;
  readonly counters: Counters;
  readonly caps: CapLimits;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** The caps one create took: give them back if the session is not stored after all. */
export interface TakenCaps {
  giveBack(): Promise<void>;
}

/** The per-user and global session caps, over shared counters. */
export class CapLedger {
  /** Cap keys seen above the store at a refusal: the values then, and since when (recountCap). */
  private readonly capDrift = new Map<string, { counted: number; held: number; since: number }>();

  /** A recount from the store under way (recountAll): takes wait for it. */
  private recounting: Promise<unknown> | undefined;

  constructor(private readonly opts: CapLedgerOptions) {}

  /**
   * Takes every cap a new session of `user` counts against, or none.
   * @throws CapExceededError when one is full (the caps taken before it are given back)
   */
  async take(user: string): Promise<TakenCaps> {
    const taken: { key: string }[] = [];
    const giveBack = async () => {
      for (const t of taken) await this.opts.counters.decrement(t.key).catch(() => undefined);
    };
    await this.recounting;
    for (const cap of capsToTake(user, this.opts.caps)) {
      let r = await this.opts.counters.tryIncrement(cap.key, cap.limit);
      if (!r.ok && (await this.recountCap(cap, user))) {
        r = await this.opts.counters.tryIncrement(cap.key, cap.limit);
      }
      if (!r.ok) {
        await giveBack();
        throw new CapExceededError(cap.cap, cap.limit, user);
      }
      taken.push(cap);
    }
    return { giveBack };
  }

  /**
   * Sets every cap counter to the sessions in the store that hold it, and returns how many hold
   * caps. For counters that started empty while the sessions were kept (in-process coordination
   * after a restart, REDIS_URL unset): without it each user could open a whole cap again on top of
   * the sessions kept. Reads the holding sessions only, a page of 1000 at a time. Takes started
   * meanwhile wait for it (and go on if it fails).
   */
  recountAll(signal?: AbortSignal): Promise<number> {
    const done = this.countAll(signal);
    this.recounting = done.catch(() => undefined);
    return done;
  }

  private async countAll(signal?: AbortSignal): Promise<number> {
    const perUser = new Map<string, number>();
    let total = 0;
    let pageToken = "";
    do {
      const page = await this.opts.store.list({
        where: { state: { in: [...capHoldingStates] } },
        pageSize: 1000,
        pageToken,
        signal,
      });
      for (const s of page.items) perUser.set(s.user, (perUser.get(s.user) ?? 0) + 1);
      total += page.items.length;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    for (const [user, n] of perUser) {
      await this.opts.counters.set(capKeys(user).user, n, { signal });
    }
    const any = perUser.keys().next();
    if (!any.done) await this.opts.counters.set(capKeys(any.value).total, total, { signal });
    return total;
  }

  /** Gives back the caps a session of `user` held (it ended). Failures are left to recountCap. */
  async release(user: string): Promise<void> {
    for (const cap of capsToTake(user, this.opts.caps)) {
      await this.opts.counters.decrement(cap.key).catch(() => undefined);
    }
  }

  /**
   * A full cap is checked against the store before it says no for good: a replica that crashed
   * between taking a cap and storing its session leaves the counter above the sessions that hold
   * it, and without this the user would be refused forever. A counter above the store is normal for
   * a moment (a create between its increment and its insert), so drift is only repaired when a
   * later refusal, at least `capDriftMs` after the first, sees the very same counter and store
   * count: then the counter is set to the store's count and true is returned (take the cap again).
   * The refusal in between stands. Only a coincidence (an unrelated create in flight at exactly
   * that moment, with both values unchanged) could let one session too many through.
   */
  private async recountCap(cap: CapToTake, user: string): Promise<boolean> {
    const held = await this.opts.store.count({
      ...(cap.cap === "per_user" ? { user } : {}),
      state: { in: [...capHoldingStates] },
    });
    const counted = await this.opts.counters.get(cap.key);
    const now = this.opts.clock().getTime();
    const seen = this.capDrift.get(cap.key);
    if (held >= counted) {
      this.capDrift.delete(cap.key);
      return false;
    }
    if (seen === undefined || seen.counted !== counted || seen.held !== held) {
      if (this.capDrift.size >= 10_000) this.capDrift.clear();
      this.capDrift.set(cap.key, { counted, held, since: now });
      return false;
    }
    if (now - seen.since < capDriftMs) return false;
    this.capDrift.delete(cap.key);
    this.opts.logger.warn(
      { cap: cap.cap, key: cap.key, counted, held, sinceMs: now - seen.since },
      "cap counter above the sessions holding it: recounted from the store",
    );
    await this.opts.counters.set(cap.key, held);
    return true;
  }
}
