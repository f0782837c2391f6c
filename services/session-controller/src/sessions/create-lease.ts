/** The lease that makes duplicates of one CreateSession request id take turns across replicas. */
import { setTimeout as sleep } from "node:timers/promises";
import type { Clock } from "@lucid-rdp/runtime";
import { type Lease, type LeaseManager, RequestInProgressError } from "@lucid-rdp/storage";
import type { SessionRecord } from "../store/records.js";
import type { SessionStore } from "../store/stores.js";

/** How long a create holds its request id's lease (it lapses if the replica dies). */
const createLeaseTtlMs = 10_000;
/** How long a duplicate waits for the first create of its request id before ABORTED. */
const createLeaseWaitMs = 15_000;

/**
 * The create lease of a request id (session `id`), or the session a duplicate holding it stored
 * meanwhile. The wait is measured on `clock`.
 * @throws RequestInProgressError when neither came within `createLeaseWaitMs`
 */
export async function acquireCreateLease(
  deps: { readonly leases: LeaseManager; readonly store: SessionStore; readonly clock: Clock },
  requestId: string,
  id: string,
): Promise<{ lease: Lease } | { record: SessionRecord }> {
  const name = `session-controller:create:${id}`;
  const until = deps.clock().getTime() + createLeaseWaitMs;
  for (;;) {
    const lease = await deps.leases.acquire(name, createLeaseTtlMs);
    if (lease !== undefined) return { lease };
    const record = await deps.store.find(id);
    if (record !== undefined) return { record };
    if (deps.clock().getTime() >= until) {
      throw new RequestInProgressError("CreateSession", requestId);
    }
    await sleep(50);
  }
}
