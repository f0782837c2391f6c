/**
 * The reaper, run by one replica at a time (leader lease): repairs what crashes and timeouts left
 * behind, and destroys what has had its time.
 *
 * Per node, both ways against its instance list:
 * - PROVISIONING servers: READY once the node reports their instance READY; FAILED when it failed.
 *   With no instance and no replica holding their provisioning lease (the create died, or its
 *   StartInstance was uncertain), resumed: StartInstance asked again with the same request id
 *   and port; FAILED only past the provisioning timeout. On a node that cannot be reached, FAILED
 *   past the timeout (an instance that turns up later is a stray, stopped below). A server behind
 *   its node's front door is promoted only with its routing token, which the instance list does
 *   not carry: one without a stored token is resumed instead (StartInstance answers the token).
 * - READY servers whose instance vanished or failed: FAILED, port freed. Idle past their TTL with
 *   no connection: stopped. DRAINING: stopped once their connections closed or their grace ended.
 *   STOPPING: the stop is finished (retried until the node answers).
 * - Instances that carry a server id with no live server: stopped.
 * - Port claims whose server is gone, lives elsewhere, or never got stored: released once older
 *   than the timeout. Servers behind a door hold none, and keep none alive.
 * Static nodes get a GetHostInfo as their heartbeat.
 */
import { type Clock, type Logger, systemClock } from "@lucid-rdp/runtime";
import type { PortLeases } from "@lucid-rdp/storage";
import type { XrdpNodes } from "../clients/xrdp-node.js";
import { liveInstanceStates, type NodeInstance } from "../domain/node-instance.js";
import { liveServerStates } from "../domain/server-state.js";
import type { NodeRepository } from "../nodes/node-repository.js";
import type { ServerRecord } from "../store/records.js";
import type { ServerStore } from "../store/stores.js";
import type { Orchestrator } from "./orchestrator.js";
import { parseClaimOwner } from "./server-ids.js";
import { systemActor } from "./server-repository.js";

export interface ReaperOptions {
  readonly orchestrator: Orchestrator;
  readonly servers: ServerStore;
  readonly nodeRepo: NodeRepository;
  readonly ports: PortLeases;
  readonly clients: XrdpNodes;
  readonly logger: Logger;
  readonly provisioningTimeoutMs: number;
  /** The wall clock. @default systemClock */
  readonly clock?: Clock;
}

export interface ReaperReport {
  readonly promoted: string[];
  readonly resumed: string[];
  readonly failed: string[];
  readonly stopped: string[];
  readonly strayInstances: string[];
  readonly releasedPorts: number;
  readonly unreachableNodes: string[];
}

export class Reaper {
  private readonly now: Clock;

  constructor(private readonly opts: ReaperOptions) {
    this.now = opts.clock ?? systemClock;
  }

  async runOnce(signal?: AbortSignal): Promise<ReaperReport> {
    const report = {
      promoted: [] as string[],
      resumed: [] as string[],
      failed: [] as string[],
      stopped: [] as string[],
      strayInstances: [] as string[],
      releasedPorts: 0,
      unreachableNodes: [] as string[],
    };
    const nodes = (await this.opts.nodeRepo.list({ pageSize: 1000, signal })).items;
    for (const node of nodes) {
      if (signal?.aborted) break;
      let instances: NodeInstance[];
      // What changed after this moment may be missing from the listing: judged next round.
      const listedAt = this.now();
      try {
        instances = await this.listInstances(node, signal);
        if (node.source === "static") {
          await this.touchStatic(node.id);
        }
      } catch (e) {
        report.unreachableNodes.push(node.id);
        this.opts.logger.warn({ err: e, node: node.id }, "reaper: node unreachable");
        await this.failUnreachable(node.id, report, signal);
        continue;
      }
      await this.reconcileNode(node, instances, listedAt, report, signal);
    }
    const changed =
      report.promoted.length +
      report.resumed.length +
      report.failed.length +
      report.stopped.length +
      report.strayInstances.length +
      report.releasedPorts;
    if (changed > 0) this.opts.logger.info(report, "reaper repaired");
    return report;
  }

  private listInstances(node: { address: string }, signal?: AbortSignal): Promise<NodeInstance[]> {
    return this.opts.clients.forNode(node).listInstances({ signal });
  }

  private async touchStatic(nodeId: string): Promise<void> {
    await this.opts.nodeRepo.touch(nodeId, this.now()).catch(() => undefined);
  }

  /** PROVISIONING servers of a node that cannot be reached, past the timeout: FAILED. */
  private async failUnreachable(
    nodeId: string,
    report: { failed: string[] },
    signal?: AbortSignal,
  ): Promise<void> {
    const now = this.now().getTime();
    const timeout = this.opts.provisioningTimeoutMs;
    const stuck = await this.opts.servers.list({
      where: { nodeId, state: { in: ["PROVISIONING"] } },
      pageSize: 1000,
      signal,
    });
    const o = this.opts.orchestrator;
    for (const s of stuck.items) {
      if (now - s.createTime.getTime() <= timeout || (await o.isBeingProvisioned(s.id))) continue;
      try {
        await o.fail(s.id, "PROVISIONING_FAILED", `node ${nodeId} unreachable for ${timeout} ms`, [
          "PROVISIONING",
        ]);
        report.failed.push(s.id);
      } catch (e) {
        this.opts.logger.warn(
          { err: e, server: s.id },
          "reaper: repair failed, retried next round",
        );
      }
    }
  }

  private async reconcileNode(
    node: { id: string; address: string },
    instances: NodeInstance[],
    listedAt: Date,
    report: {
      promoted: string[];
      resumed: string[];
      failed: string[];
      stopped: string[];
      strayInstances: string[];
      releasedPorts: number;
    },
    signal?: AbortSignal,
  ): Promise<void> {
    const now = this.now().getTime();
    const timeout = this.opts.provisioningTimeoutMs;
    const servers = (
      await this.opts.servers.list({
        where: { nodeId: node.id, state: { in: [...liveServerStates] } },
        pageSize: 1000,
        signal,
      })
    ).items;
    // The newest instance of each server.
    const byServer = new Map<string, NodeInstance>();
    for (const i of instances) {
      if (i.serverId === "") continue;
      const seen = byServer.get(i.serverId);
      if (!seen || createSeconds(i) >= createSeconds(seen)) {
        byServer.set(i.serverId, i);
      }
    }
    const o = this.opts.orchestrator;
    // Resumed creates run side by side (each StartInstance may wait for READY), awaited below.
    const resumes: Promise<void>[] = [];
    for (const s of servers) {
      const inst = byServer.get(s.id);
      const age = now - s.createTime.getTime();
      try {
        switch (s.state) {
          case "PROVISIONING":
            if (inst?.state === "READY" && (s.viaDoor !== true || s.routingToken !== undefined)) {
              await o.markReady(s.id, inst.id);
              report.promoted.push(s.id);
            } else if (inst?.state === "FAILED" || inst?.state === "STOPPED") {
              await o.fail(
                s.id,
                "INSTANCE_FAILED",
                inst.stateMessage || "the instance failed while starting",
                ["PROVISIONING"],
              );
              report.failed.push(s.id);
            } else if (inst && inst.state !== "READY" && liveInstanceStates.has(inst.state)) {
              // Still starting on the node: the node gives up itself (READINESS_TIMEOUT, then
              // FAILED), which the branch above turns into a FAILED server.
            } else if (await o.isBeingProvisioned(s.id)) {
              // A live replica creates or resumes it.
            } else if (age > timeout) {
              // Nothing came of it within the timeout: the node's instance (if one turns up
              // later) is a stray, stopped below.
              await o.fail(s.id, "PROVISIONING_FAILED", `no instance within ${timeout} ms`, [
                "PROVISIONING",
              ]);
              report.failed.push(s.id);
            } else {
              // The create died, or its StartInstance was uncertain (or, behind a door, its
              // instance is READY but the token was lost with the answer): ask the node again.
              resumes.push(
                o.resume(s.id).then(
                  (out) => {
                    if (out !== "busy" && out !== "settled") report.resumed.push(s.id);
                  },
                  (e: unknown) =>
                    this.opts.logger.warn({ err: e, server: s.id }, "reaper: resume failed"),
                ),
              );
            }
            break;
          case "READY":
            if (inst === undefined && s.updateTime.getTime() >= listedAt.getTime()) {
              // Promoted (or otherwise changed) after the node's instances were listed: its
              // instance may have started after the listing too. Judged next round.
            } else if (inst === undefined || !liveInstanceStates.has(inst.state)) {
              const failed = inst?.state === "FAILED";
              await o.fail(
                s.id,
                failed ? "INSTANCE_FAILED" : "INSTANCE_VANISHED",
                failed
                  ? inst?.stateMessage || "the instance failed"
                  : "the node no longer runs the instance",
              );
              report.failed.push(s.id);
            } else if (await this.idleExpired(s, inst)) {
              await o.repo.transition(s.id, "STOPPING", systemActor, {
                stateReason: "IDLE_TTL_EXPIRED",
                stateMessage: `idle for more than ${s.idleTtlMs} ms`,
              });
              await o.finishStop(s.id, true);
              report.stopped.push(s.id);
            }
            break;
          case "DRAINING":
            if ((inst?.connectionCount ?? 0) === 0 || (s.deleteDeadline?.getTime() ?? 0) <= now) {
              await o.repo.transition(s.id, "STOPPING", systemActor);
              await o.finishStop(s.id, true);
              report.stopped.push(s.id);
            }
            break;
          case "STOPPING":
            await o.finishStop(s.id, true);
            report.stopped.push(s.id);
            break;
        }
      } catch (e) {
        this.opts.logger.warn(
          { err: e, server: s.id },
          "reaper: repair failed, retried next round",
        );
      }
    }
    await Promise.all(resumes);
    // Instances no live server owns.
    const live = new Set(servers.map((s) => s.id));
    for (const i of instances) {
      if (i.serverId === "" || live.has(i.serverId) || !liveInstanceStates.has(i.state)) continue;
      // A server stored after this list was read is live by now: look again before stopping.
      const s = await this.opts.orchestrator.repo.find(i.serverId);
      if (s && liveServerStates.includes(s.state)) continue;
      await this.stopInstance(node, i.id);
      report.strayInstances.push(i.id);
    }
    // Port claims whose server is gone, or was never stored.
    const claims = await this.opts.ports.list(node.id, { signal });
    const livePorts = new Map(servers.filter((s) => s.viaDoor !== true).map((s) => [s.port, s.id]));
    for (const [port, owner] of claims) {
      const { serverId, at } = parseClaimOwner(owner);
      if (livePorts.get(port) === serverId) continue;
      if (now - at < timeout) continue; // a create may still be on its way
      const s = await this.opts.orchestrator.repo.find(serverId);
      if (
        s &&
        liveServerStates.includes(s.state) &&
        s.viaDoor !== true &&
        s.port === port &&
        s.nodeId === node.id
      ) {
        continue;
      }
      if (await this.opts.ports.release(node.id, port, owner)) report.releasedPorts++;
    }
  }

  /** True when a READY server with an idle TTL had no connection for that long. */
  private async idleExpired(s: ServerRecord, inst: NodeInstance): Promise<boolean> {
    if (!s.idleTtlMs || s.idleTtlMs <= 0) return false;
    if (inst.connectionCount > 0) {
      await this.opts.orchestrator.repo
        .update(s.id, { lastConnectionTime: this.now() })
        .catch(() => undefined);
      return false;
    }
    const since = (s.lastConnectionTime ?? s.readyTime ?? s.createTime).getTime();
    return this.now().getTime() - since > s.idleTtlMs;
  }

  private async stopInstance(node: { address: string }, instanceId: string): Promise<void> {
    // An instance the node does not know is stopped.
    await this.opts.clients.forNode(node).stopInstance(instanceId, true);
  }
}

/** The whole second an instance was created in (0 when unknown): newer wins, ties to the later. */
function createSeconds(i: NodeInstance): number {
  return i.createTime === undefined ? 0 : Math.floor(i.createTime.getTime() / 1000);
}
