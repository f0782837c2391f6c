/**
 * Creating a server, as one resumable step keyed by ids derived from the request id.
 *
 * The server id is derived from the CreateServer request_id (server-ids.ts), and the record,
 * which carries the request's parameter hash, is the request's idempotency: a retry finds it and
 * gets it (resumed if still PROVISIONING), the same id with other parameters is refused
 * (RequestIdReusedError), and two concurrent calls race for one insert of one id.
 *
 * A fresh create, in order: pick a node, claim a port (Redis lease per (node, port) whose owner
 * names the server id), store the server PROVISIONING (its "server.created" event in the same
 * write), ask the node to start the instance with a request id derived from the server id, then
 * READY. A port the node cannot bind (PORT_IN_USE) or a refusal (INVALID_ARGUMENT, the node's own
 * RESOURCE_EXHAUSTED) deletes the record and frees the claim: a create that fails for certain
 * leaves nothing. Other definite errors mark the server FAILED.
 *
 * On a node with an RDP front door (rdpDoorPort > 0) no port is claimed: the record is stored with
 * the door as its endpoint (`viaDoor`), StartInstance asks for port 0 (the node chooses a loopback
 * port or hands out a warm instance), and the routing token of its answer (READY or STARTING) is
 * stored with the server. Only StartInstance carries the token, and a repeat with the same request
 * id returns the same one: every resume below gets it back, and a door server is made READY only
 * with its token.
 *
 * An uncertain StartInstance (the node crashed, restarted, refused the stream or ran out of time:
 * see clients/start-errors.ts) leaves the server PROVISIONING: whoever knows its id may resume it,
 * calling StartInstance again with the same request id and port (the claim re-taken if it was
 * released). Resumers are the same call, retrying with backoff while its caller waits; a later
 * CreateServer with the same request_id; and the reaper, once no replica holds the server's
 * provisioning lease. One whose StartInstance stays uncertain is failed by the reaper alone, past
 * the provisioning timeout.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Clock, type Logger, systemClock } from "@lucid-rdp/runtime";
import {
  AlreadyExistsError,
  type LeaseManager,
  type NewRecord,
  type PortLeases,
  paramsHash,
  RequestIdReusedError,
} from "@lucid-rdp/storage";
import type { XrdpNodes } from "../clients/xrdp-node.js";
import type { NodeInstance } from "../domain/node-instance.js";
import {
  NodeNotFoundError,
  NodesFullError,
  NodeUnavailableError,
  pickNode,
} from "../domain/placement.js";
import { PortPoolExhaustedError, scanOffset } from "../domain/port-pool.js";
import type { ServerState, ServerStateReason } from "../domain/server-state.js";
import { StartInstanceFailedError } from "../domain/start-instance-failed-error.js";
import type { XrdpSettings } from "../domain/xrdp-settings.js";
import type { NodeHealthView } from "../nodes/node-health.js";
import type { NodeRecord, ServerRecord } from "../store/records.js";
import type { NodeStore } from "../store/stores.js";
import { ensureClaim, releaseClaim } from "./port-claims.js";
import { claimOwner, instanceRequestId, provisioningLease, serverIdFor } from "./server-ids.js";
import { type Actor, type ServerRepository, systemActor } from "./server-repository.js";

export interface CreateInput {
  readonly requestId: string;
  readonly owner: string;
  readonly nodeId?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The xrdp settings, stored with the server and passed on to the node as they are. */
  readonly settings?: XrdpSettings;
  readonly idleTtlMs?: number;
  readonly sessionId?: string;
}

export interface CreateOptions {
  /** The caller's cancel; a create that stored its record finishes (or is resumed) regardless. */
  readonly signal?: AbortSignal;
  /**
   * Until when (epoch ms, wall clock) this call retries an uncertain StartInstance; past it the
   * server stays PROVISIONING for a later resumer.
   * @default no retry
   */
  readonly retryUntil?: number;
}

/** What one StartInstance did for a server. */
export type StartOutcome = "ready" | "starting" | "failed" | "uncertain" | "port_taken";

/**
 * What a create came to: the server's id and, when this call stored the server READY from
 * StartInstance's answer (or found it settled), the record, so that CreateServer can answer from
 * it instead of reading it again.
 */
export interface CreateResult {
  readonly id: string;
  /** The record as this call last stored or read it; absent when it did not end the create. */
  readonly record?: ServerRecord;
}

/** One StartInstance's outcome, and the record after `start` stored READY. */
interface Started {
  readonly outcome: StartOutcome;
  readonly record?: ServerRecord;
}

/** What a resume found or did: "busy" when another replica holds the provisioning lease. */
export type ResumeOutcome = StartOutcome | "busy" | "settled";

export interface ProvisionerOptions {
  readonly repo: ServerRepository;
  readonly nodes: NodeStore;
  readonly ports: PortLeases;
  readonly leases: LeaseManager;
  readonly clients: XrdpNodes;
  readonly logger: Logger;
  /** Nodes with their health and load, for placement. */
  readonly nodeViews: (signal?: AbortSignal) => Promise<NodeHealthView[]>;
  /** How long a node's StartInstance may wait for READY. @default 30000 */
  readonly startWaitMs?: number;
  /** The wall clock. @default systemClock */
  readonly clock?: Clock;
  /** Where in a node's port range a create starts looking (0 <= x < 1), and retry jitter. @default Math.random */
  readonly random?: () => number;
}

/**
 * How long a create's provisioning lease outlives its replica: the reaper resumes a create whose
 * replica died this long after its last renewal (every third of it). Short, so that a crash leaves
 * the create waiting seconds, well inside the provisioning timeout; a replica stalled longer only
 * lets a resume run beside it, which StartInstance's request id makes harmless.
 */
const provisioningLeaseTtlMs = 5_000;

/** The states a provisioning failure may end: PROVISIONING only. */
const provisioning: readonly ServerState[] = ["PROVISIONING"];

/** How much longer than the node's wait for READY a StartInstance call may take. */
const startCallMarginMs = 5_000;

/** How many ports one create claims and tries before it gives up on the node's pool. */
const maxPortAttempts = 16;

/** The hash of a create's parameters (without its request id), stored in the record. */
export function requestHashOf(input: CreateInput): string {
  return paramsHash({
    owner: input.owner,
    nodeId: input.nodeId ?? "",
    labels: input.labels,
    settings: input.settings ?? null,
    idleTtlMs: input.idleTtlMs ?? 0,
    sessionId: input.sessionId ?? "",
  });
}

export class Provisioner {
  private readonly now: Clock;
  private readonly random: () => number;

  constructor(private readonly opts: ProvisionerOptions) {
    this.now = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
  }

  /**
   * The server of `input.requestId`: the existing one (resumed when PROVISIONING), or a new one
   * placed, claimed, stored and started. Returns its id, with the record as this call stored it
   * when it made it READY; the record may still be PROVISIONING.
   * @throws RequestIdReusedError, NodeNotFoundError, NodeUnavailableError, NodesFullError,
   *   NoHealthyNodeError, PortPoolExhaustedError, the node's definite errors, store errors
   */
  async create(input: CreateInput, actor: Actor, opts: CreateOptions = {}): Promise<CreateResult> {
    const id = serverIdFor(input.requestId);
    const requestHash = requestHashOf(input);
    const existing = await this.opts.repo.find(id, { signal: opts.signal });
    if (existing !== undefined) return this.answer(existing, requestHash, opts);
    try {
      const node = await this.place(input, opts.signal);
      // A concurrent duplicate may hold the lease: this call goes on, and the insert decides.
      const result = await this.withLease(id, false, () =>
        this.createOn(node, id, requestHash, input, actor, opts),
      );
      return result ?? { id };
    } catch (e) {
      // No node or port left because a concurrent call with the same request id took it: its
      // server is the answer.
      const winner = await this.opts.repo.find(id).catch(() => undefined);
      if (winner === undefined) throw e;
      return this.answer(winner, requestHash, opts);
    }
  }

  /**
   * Resumes a PROVISIONING server: its port claim made sure of, StartInstance asked again with
   * the same request id, retried while `opts.retryUntil` allows. "busy" when a live replica
   * works on it; "settled" when it is no longer PROVISIONING.
   */
  async resume(id: string, opts: CreateOptions = {}): Promise<ResumeOutcome> {
    const out = await this.withLease(id, true, async (): Promise<ResumeOutcome> => {
      const s = await this.opts.repo.find(id, { signal: opts.signal });
      if (s === undefined || s.state !== "PROVISIONING") return "settled";
      const node = await this.opts.nodes.find(s.nodeId, { signal: opts.signal });
      if (node === undefined) {
        await this.fail(s.id, "PROVISIONING_FAILED", `node ${s.nodeId} is gone`, provisioning);
        return "failed";
      }
      const first = await this.startWithClaim(s, node, opts.retryUntil);
      return first === "uncertain" ? this.retryStart(s, node, opts) : first;
    });
    return out ?? "busy";
  }

  /**
   * Marks a server FAILED and frees its port, if it is in one of the states `from` (checked in
   * the same write). What went wrong while provisioning passes PROVISIONING only: a server that
   * became READY meanwhile (the reaper promoted the instance another attempt started) stays READY.
   */
  async fail(
    id: string,
    reason: ServerStateReason,
    message: string,
    from: readonly ServerState[] = ["PROVISIONING", "READY", "DRAINING", "STOPPING"],
  ): Promise<void> {
    const s = await this.opts.repo.transition(
      id,
      "FAILED",
      systemActor,
      { stateReason: reason, stateMessage: message },
      { from },
    );
    if (s.state === "FAILED") await releaseClaim(this.opts.ports, s);
  }

  private async answer(
    s: ServerRecord,
    requestHash: string,
    opts: CreateOptions,
  ): Promise<CreateResult> {
    if (s.requestHash !== undefined && s.requestHash !== requestHash) {
      throw new RequestIdReusedError("CreateServer", s.requestId ?? "");
    }
    if (s.state === "PROVISIONING") {
      await this.resume(s.id, opts);
      return { id: s.id };
    }
    return { id: s.id, record: s };
  }

  private async place(input: CreateInput, signal?: AbortSignal): Promise<NodeRecord> {
    const views = await this.opts.nodeViews(signal);
    if (input.nodeId) {
      const v = views.find((x) => x.node.id === input.nodeId);
      if (v === undefined) throw new NodeNotFoundError(input.nodeId);
      if (v.node.draining) throw new NodeUnavailableError(input.nodeId, "it is draining");
      if (!v.healthy) throw new NodeUnavailableError(input.nodeId, v.message);
      if (v.servers >= v.node.maxServers) {
        throw new NodesFullError(
          `node ${input.nodeId} is at its max-servers cap (${v.node.maxServers})`,
        );
      }
      return v.node;
    }
    const chosen = pickNode(
      views.map((v) => ({
        id: v.node.id,
        healthy: v.healthy,
        draining: v.node.draining,
        maxServers: v.node.maxServers,
        servers: v.servers,
        message: v.message,
      })),
    );
    return (views.find((v) => v.node.id === chosen.id) as NodeHealthView).node;
  }

  /** The PROVISIONING record of a new server on `node` at `port`. */
  private newRecord(
    node: NodeRecord,
    id: string,
    requestHash: string,
    input: CreateInput,
    port: number,
    viaDoor: boolean,
  ): NewRecord<ServerRecord> {
    return {
      id,
      requestId: input.requestId,
      requestHash,
      owner: input.owner,
      nodeId: node.id,
      host: node.rdpHost ?? node.address.replace(/:[0-9]+$/, ""),
      port,
      ...(viaDoor ? { viaDoor: true } : {}),
      state: "PROVISIONING",
      labels: { ...input.labels },
      sessionId: input.sessionId,
      settings: input.settings,
      idleTtlMs: input.idleTtlMs,
    };
  }

  /**
   * Claims a port, stores the record and starts the instance; the next port when it is taken. On
   * a node with a front door: no claim, the door as the endpoint.
   */
  private async createOn(
    node: NodeRecord,
    id: string,
    requestHash: string,
    input: CreateInput,
    actor: Actor,
    opts: CreateOptions,
  ): Promise<CreateResult> {
    const doorPort = node.rdpDoorPort ?? 0;
    if (doorPort > 0) {
      let record: ServerRecord;
      try {
        record = await this.opts.repo.insert(
          this.newRecord(node, id, requestHash, input, doorPort, true),
          actor,
        );
      } catch (e) {
        if (e instanceof AlreadyExistsError && e.key === "id") {
          // A concurrent call with the same request id stored it first: its server is the answer.
          return this.answer(await this.opts.repo.get(id), requestHash, opts);
        }
        throw e; // stored or not: the reaper decides
      }
      const started = await this.start(record, node, true, opts.retryUntil);
      if (started.outcome === "uncertain") await this.retryStart(record, node, opts);
      return { id, record: started.record };
    }
    const range = { start: node.portRangeStart, end: node.portRangeEnd };
    const offset = scanOffset(range, this.opts.random);
    // Ports found taken after claiming them: released, and never offered to this create again.
    const taken = new Set<number>();
    for (let attempt = 0; attempt < maxPortAttempts; attempt++) {
      const owner = claimOwner(id, this.now());
      const port = await this.opts.ports.allocate(node.id, range, owner, {
        offset,
        skip: taken,
        signal: opts.signal,
      });
      if (port === undefined) break;
      let record: ServerRecord;
      try {
        // From here on the caller's signal is not ours to follow: a create that has begun is
        // finished, resumed or failed, whether or not the caller still waits for it.
        record = await this.opts.repo.insert(
          this.newRecord(node, id, requestHash, input, port, false),
          actor,
        );
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e; // stored or not: the reaper decides
        await this.opts.ports.release(node.id, port, owner).catch(() => undefined);
        if (e.key === "id") {
          // A concurrent call with the same request id stored it first: its server is the answer.
          return this.answer(await this.opts.repo.get(id), requestHash, opts);
        }
        // A server record holds the port without a claim the scan saw: next port.
        taken.add(port);
        continue;
      }
      const started = await this.start(record, node, true, opts.retryUntil);
      if (started.outcome === "port_taken") {
        taken.add(port);
        continue;
      }
      if (started.outcome === "uncertain") await this.retryStart(record, node, opts);
      return { id, record: started.record };
    }
    throw new PortPoolExhaustedError(node.id);
  }

  /** Retries an uncertain StartInstance with jittered backoff while `opts.retryUntil` allows. */
  private async retryStart(
    s: ServerRecord,
    node: NodeRecord,
    opts: CreateOptions,
  ): Promise<ResumeOutcome> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 4_000)) {
      const pause = delay / 2 + (this.random() * delay) / 2;
      // A retry needs time for the node's wait and an answer; else it is left to a later resumer.
      if (opts.retryUntil === undefined || Date.now() + pause + 4_000 >= opts.retryUntil) {
        return "uncertain";
      }
      if (opts.signal?.aborted) return "uncertain";
      await sleep(pause, undefined, { signal: opts.signal }).catch(() => undefined);
      const current = await this.opts.repo.find(s.id);
      if (current === undefined || current.state !== "PROVISIONING") return "settled";
      const out = await this.startWithClaim(current, node, opts.retryUntil);
      if (out !== "uncertain") return out;
    }
  }

  /** A resumed StartInstance, once the server is sure to hold its port (or needs none). */
  private async startWithClaim(
    s: ServerRecord,
    node: NodeRecord,
    until?: number,
  ): Promise<StartOutcome> {
    if (!(await ensureClaim(this.opts.ports, s, this.now()))) {
      await this.fail(
        s.id,
        "PROVISIONING_FAILED",
        `port ${s.port} is held by another server`,
        provisioning,
      );
      return "failed";
    }
    return (await this.start(s, node, false, until)).outcome;
  }

  /**
   * Asks the node to start the server's instance and stores what came of it. For a `fresh`
   * record a refusal deletes it ("port_taken" or the error thrown); for a resumed one a definite
   * error fails the server. With `until` (epoch ms), the node's wait ends 3 s before it (it waits
   * at least 1 s): an instance still STARTING is promoted by the reaper. With "ready", the record
   * as stored READY.
   */
  private async start(
    s: ServerRecord,
    node: NodeRecord,
    fresh: boolean,
    until?: number,
  ): Promise<Started> {
    let instance: NodeInstance | undefined;
    // The node's wait ends well before the call's deadline, so that a slow start answers STARTING
    // instead of being cut (a cut call leaves the node mid-request, and a retry would overlap it).
    const left = until === undefined ? Number.POSITIVE_INFINITY : until - Date.now();
    const waitMs = Math.max(1_000, Math.min(this.opts.startWaitMs ?? 30_000, left - 3_000));
    try {
      instance = await this.opts.clients.forNode(node).startInstance({
        requestId: instanceRequestId(s.id),
        serverId: s.id,
        owner: s.owner,
        port: s.viaDoor === true ? 0 : s.port,
        settings: s.settings,
        waitMs,
        timeoutMs: waitMs + startCallMarginMs,
      });
    } catch (e) {
      const err =
        e instanceof StartInstanceFailedError
          ? e
          : new StartInstanceFailedError("uncertain", String(e), { cause: e });
      if (err.failure === "uncertain") {
        this.opts.logger.warn(
          { err: err.cause, server: s.id, node: node.id },
          "StartInstance uncertain: the server stays PROVISIONING and is resumed",
        );
        return { outcome: "uncertain" };
      }
      const portTaken = err.failure === "port_in_use";
      const refused = portTaken || err.failure === "refused";
      if (fresh && refused) {
        // Nothing was started: nothing stays.
        await this.opts.repo.delete(s.id).catch(() => undefined);
        await releaseClaim(this.opts.ports, s).catch(() => undefined);
        // Behind a door the node chose the port: no other port to try.
        if (portTaken && s.viaDoor !== true) return { outcome: "port_taken" };
        throw err.cause;
      }
      await this.fail(
        s.id,
        "PROVISIONING_FAILED",
        `the node could not start the instance: ${err.nodeMessage}`,
        provisioning,
      );
      if (fresh) throw err.cause;
      return { outcome: "failed" };
    }
    // Only StartInstance's answer carries the token (the same for every repeat of the request).
    const routingToken = s.viaDoor === true ? instance?.routingToken || s.routingToken : undefined;
    const token = routingToken === undefined ? {} : { routingToken };
    if (instance?.state === "READY") {
      if (s.viaDoor === true && routingToken === undefined) {
        // Unreachable behind the door without it; the node's instance is then a stray the reaper
        // stops.
        await this.fail(
          s.id,
          "PROVISIONING_FAILED",
          "the node started the instance behind its front door but gave no routing token",
          provisioning,
        );
        return { outcome: "failed" };
      }
      const record = await this.opts.repo.transition(
        s.id,
        "READY",
        systemActor,
        { instanceId: instance.id, readyTime: this.now(), ...token },
        // The record as this create stored or last read it: written on without reading it again.
        { from: ["PROVISIONING"], current: s },
      );
      // As written, or as found moved on (another resumer, the reaper): the latest either way.
      return { outcome: "ready", record };
    }
    if (instance?.state === "FAILED") {
      await this.fail(
        s.id,
        "PROVISIONING_FAILED",
        instance.stateMessage || "the instance failed",
        provisioning,
      );
      return { outcome: "failed" };
    }
    // Still STARTING: the reaper promotes it once the node reports READY.
    if (instance) await this.opts.repo.update(s.id, { instanceId: instance.id, ...token });
    return { outcome: "starting" };
  }

  /**
   * Runs `fn` holding the server's provisioning lease (renewed while it runs), which keeps the
   * reaper's resume off. Held elsewhere: `undefined` when `exclusive`, else `fn` runs without it.
   */
  private async withLease<T>(
    id: string,
    exclusive: boolean,
    fn: () => Promise<T>,
  ): Promise<T | undefined> {
    const { leases } = this.opts;
    const lease = await leases.acquire(provisioningLease(id), provisioningLeaseTtlMs);
    if (lease === undefined && exclusive) return undefined;
    const renew = setInterval(() => {
      if (lease) void leases.renew(lease, provisioningLeaseTtlMs).catch(() => undefined);
    }, provisioningLeaseTtlMs / 3);
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      if (lease) await leases.release(lease).catch(() => undefined);
    }
  }
}
