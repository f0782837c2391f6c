/**
 * The supervisor's one way to change an instance's record: `Repository.modify` (read, apply, write
 * with the version check, the change's event stored in the record's outbox in the same write and
 * published from there; `relay` delivers what a killed writer left). Writes of one instance are
 * applied in order. A write the store
 * refuses because it is unreachable (BackendUnavailableError) is retried with backoff until it
 * lands, so what the supervisor knows of its processes reaches the record once the database is
 * back: an instance is never left STARTING because READY could not be written during an outage.
 * Retries end only when the supervisor lets go of its instances (`abandoned`), leaving the record
 * to the next life's reconcile.
 */
import type { Logger } from "@lucid-rdp/runtime";
import {
  BackendUnavailableError,
  type CallOptions,
  ConflictError,
  type EventBus,
  type EventDraft,
  type NewRecord,
  type Page,
  Repository,
} from "@lucid-rdp/storage";
import { type InstanceState, isLiveState, liveInstanceStates } from "../domain/instance-states.js";
import type { InstanceRecord } from "../store/records.js";
import type { InstanceStore } from "../store/stores.js";
import { listLiveInstances } from "./live-instances.js";

/** The fields a transition may change. */
export type InstanceChanges = Partial<
  Omit<InstanceRecord, "id" | "version" | "createTime" | "updateTime">
>;

export interface InstanceRecordsOptions {
  readonly store: InstanceStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** True once writes should no longer be retried (the service let go of its instances). */
  readonly abandoned: () => boolean;
  /** First and largest pause between retries of an unreachable store. @default 100, 2000 */
  readonly retryMs?: { readonly first: number; readonly max: number };
}

/** Which instances a list returns (ListInstances' filters) and which page of them. */
export interface InstanceQuery extends CallOptions {
  /** Only instances in one of these states; empty or absent: any state. */
  readonly states?: readonly InstanceState[];
  /** Only the instance(s) of this server; absent: any server. */
  readonly serverId?: string;
  /** @default 50 (at most 1000) */
  readonly pageSize?: number;
  /** From a previous page's nextPageToken. */
  readonly pageToken?: string;
}

/** What the handler reads of the instance records: no writes. */
export type InstanceReader = Pick<
  InstanceRecords,
  "get" | "find" | "list" | "listLive" | "countLive"
>;

/** The event of an instance's creation or change of state. */
function event(type: string, previousState?: InstanceState): EventDraft<InstanceRecord> {
  return { type, data: (instance) => ({ instance, previousState }) };
}

export class InstanceRecords {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly repo: Repository<InstanceRecord>;

  constructor(private readonly opts: InstanceRecordsOptions) {
    this.repo = new Repository({ collection: opts.store, bus: opts.bus, logger: opts.logger });
  }

  /** Stores a new instance with its `instance.created` event. @throws AlreadyExistsError */
  insert(record: NewRecord<InstanceRecord>): Promise<InstanceRecord> {
    return this.repo.insert(record, [event("instance.created")]);
  }

  /** Delivers the events a killed writer left in instance records (older than 5 s). */
  relay(): Promise<number> {
    return this.repo.relayOnce(5_000);
  }

  /** Moves instance `id` to `state` with `changes`, stores it and publishes the change. */
  transition(id: string, state: InstanceState, changes: InstanceChanges): Promise<InstanceRecord> {
    return this.queue(id, () =>
      this.retry(`recording ${state}`, id, async () => {
        const { record } = await this.repo.modify(id, (current) => ({
          changes: { ...changes, state },
          events: current.state === state ? [] : [event("instance.state_changed", current.state)],
        }));
        return record;
      }),
    );
  }

  /**
   * Records the pid of the xrdp that runs for a live instance, in whatever state it is, when the
   * record says otherwise (a write of it was lost); queued behind the instance's other writes.
   */
  recordPid(id: string, pid: number, startTicks: number): Promise<InstanceRecord> {
    return this.queue(id, () =>
      this.retry("recording the pid", id, async () => {
        const { record } = await this.repo.modify(id, (current) =>
          isLiveState(current.state) && current.pid !== pid
            ? { changes: { pid, pidStartTicks: startTicks } }
            : undefined,
        );
        return record;
      }),
    );
  }

  /** Runs `run` after every write of instance `id` queued before it. */
  private queue(id: string, run: () => Promise<InstanceRecord>): Promise<InstanceRecord> {
    const before = this.chains.get(id) ?? Promise.resolve();
    const p = before.then(run, run);
    const tail = p.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return p;
  }

  /** The instance StartInstance `requestId` got, handed out from the warm pool, or undefined. */
  findByRequestId(requestId: string, opts?: CallOptions): Promise<InstanceRecord | undefined> {
    return this.opts.store.findOne({ requestId }, opts);
  }

  /** The warm pool's live instances (READY and still starting), unassigned. */
  async listWarm(): Promise<InstanceRecord[]> {
    return (await this.listLive()).filter((r) => r.warm === true);
  }

  /** The warm instances READY to be handed out (one indexed query: the hand-out's path). */
  async listWarmReady(): Promise<InstanceRecord[]> {
    const page = await this.opts.store.list({
      where: { warm: true, state: "READY" },
      pageSize: 64,
    });
    return page.items;
  }

  /**
   * Hands warm instance `id` to a StartInstance: one versioned write that succeeds only while the
   * record is still warm and READY, so two callers (or two lives of the service) never both get
   * it. Returns the record as assigned, or undefined when it was no longer free.
   */
  async assign(
    id: string,
    changes: Pick<
      InstanceRecord,
      "requestId" | "serverId" | "owner" | "settings" | "requestedPort"
    >,
    /** The record as just listed: written on without reading it again (a stale one conflicts). */
    current?: InstanceRecord,
  ): Promise<InstanceRecord | undefined> {
    const { record, changed } = await this.repo.modify(
      id,
      (now) =>
        now.warm === true && now.state === "READY"
          ? { changes: { ...changes, warm: false } }
          : undefined,
      { current },
    );
    return changed ? record : undefined;
  }

  /** The instance's record. @throws NotFoundError */
  get(id: string, opts?: CallOptions): Promise<InstanceRecord> {
    return this.opts.store.get(id, opts);
  }

  /** The instance's record, or undefined. */
  find(id: string, opts?: CallOptions): Promise<InstanceRecord | undefined> {
    return this.opts.store.find(id, opts);
  }

  /** One page of the instances matching `query`, newest first. @throws InvalidPageTokenError */
  list(query: InstanceQuery = {}): Promise<Page<InstanceRecord>> {
    const { states = [], serverId, pageSize, pageToken, signal } = query;
    return this.opts.store.list({
      where: {
        ...(states.length > 0 ? { state: { in: [...states] } } : {}),
        ...(serverId !== undefined ? { serverId } : {}),
      },
      pageSize,
      pageToken,
      signal,
    });
  }

  /** Every live instance (not STOPPED or FAILED), read `pageSize` at a time. */
  listLive(pageSize?: number): Promise<InstanceRecord[]> {
    return listLiveInstances(this.opts.store, pageSize);
  }

  /** How many instances are live (STARTING, READY, RESTARTING, STOPPING). */
  countLive(opts?: CallOptions): Promise<number> {
    return this.opts.store.count({ state: { in: [...liveInstanceStates] } }, opts);
  }

  /** The record, or undefined; an unreachable store is waited out (background paths only). */
  read(id: string): Promise<InstanceRecord | undefined> {
    return this.retry("reading", id, () => this.opts.store.find(id));
  }

  /**
   * Runs `fn` until the store answers. Besides an outage, a conflict that outlasts quick retries is
   * waited out too: a writer killed mid-write (a crash of the last life) holds the record's next
   * version until the store's claim timeout (5 s with MongoDB) lets it go.
   */
  private async retry<R>(what: string, id: string, fn: () => Promise<R>): Promise<R> {
    const { first, max } = this.opts.retryMs ?? { first: 100, max: 2_000 };
    for (let delay = first, attempt = 0; ; delay = Math.min(delay * 2, max), attempt++) {
      try {
        return await fn();
      } catch (e) {
        const passing = e instanceof BackendUnavailableError || e instanceof ConflictError;
        if (!passing || this.opts.abandoned()) throw e;
        if (attempt === 0) {
          this.opts.logger.warn({ err: e, instance: id }, `${what} postponed: retrying`);
        }
        // Jitter, so that many instances do not hammer a store coming back at the same instant.
        await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * (delay / 2)).unref());
      }
    }
  }
}
