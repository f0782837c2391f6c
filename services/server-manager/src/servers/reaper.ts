/**
 * The reaper, run by one replica at a time (leader lease): repairs what crashes and timeouts left
 * behind, and destroys what has had its time.
 *
 * Per node, both ways against its instance list:
 * - PROVISIONING servers: READY once the node reports their instance READY; FAILED when it failed,
 *   or when nothing came of them within the provisioning timeout (a replica died mid-create).
 * - READY servers whose instance vanished or failed: FAILED, port freed. Idle past their TTL with
 *   no connection: stopped. DRAINING: stopped once their connections closed or their grace ended.
 *   STOPPING: the stop is finished (retried until the node answers).
 * - Instances that carry a server id with no live server: stopped.
 * - Port claims whose server is gone (or never got stored): released once older than the timeout.
 * Static nodes get a GetHostInfo as their heartbeat.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type Instance, InstanceState } from "@lucid-rdp/gen";
import type { Logger } from "@lucid-rdp/runtime";
import {
  liveServerStates,
  type NodeStore,
  type PortLeases,
  type ServerRecord,
  type ServerStore,
} from "@lucid-rdp/storage";
import type { NodeClients } from "../nodes/node-clients.js";
import { type Orchestrator, parseClaimOwner, systemActor } from "./orchestrator.js";

export interface ReaperOptions {
  readonly orchestrator: Orchestrator;
  readonly servers: ServerStore;
  readonly nodes: NodeStore;
  readonly ports: PortLeases;
  readonly clients: NodeClients;
  readonly logger: Logger;
  readonly provisioningTimeoutMs: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export interface ReaperReport {
  readonly promoted: string[];
  readonly failed: string[];
  readonly stopped: string[];
  readonly strayInstances: string[];
  readonly releasedPorts: number;
  readonly unreachableNodes: string[];
}

const liveInstance = new Set([
  InstanceState.STARTING,
  InstanceState.READY,
  InstanceState.RESTARTING,
]);

export class Reaper {
  private readonly now: () => Date;

  constructor(private readonly opts: ReaperOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  async runOnce(signal?: AbortSignal): Promise<ReaperReport> {
    const report = {
      promoted: [] as string[],
      failed: [] as string[],
      stopped: [] as string[],
      strayInstances: [] as string[],
      releasedPorts: 0,
      unreachableNodes: [] as string[],
    };
    const nodes = (await this.opts.nodes.list({ pageSize: 1000, signal })).items;
    for (const node of nodes) {
      if (signal?.aborted) break;
      let instances: Instance[];
      try {
        instances = await this.listInstances(node, signal);
        if (node.source === "static") {
          await this.touchStatic(node.id);
        }
      } catch (e) {
        report.unreachableNodes.push(node.id);
        this.opts.logger.warn({ err: e, node: node.id }, "reaper: node unreachable");
        continue;
      }
      await this.reconcileNode(node, instances, report, signal);
    }
    const changed =
      report.promoted.length +
      report.failed.length +
      report.stopped.length +
      report.strayInstances.length +
      report.releasedPorts;
    if (changed > 0) this.opts.logger.info(report, "reaper repaired");
    return report;
  }

  private async listInstances(
    node: { address: string },
    signal?: AbortSignal,
  ): Promise<Instance[]> {
    const out: Instance[] = [];
    let pageToken = "";
    do {
      const page = await this.opts.clients
        .forNode(node)
        .listInstances({ pageSize: 1000, pageToken }, { signal });
      out.push(...page.instances);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return out;
  }

  private async touchStatic(nodeId: string): Promise<void> {
    const n = await this.opts.nodes.get(nodeId);
    await this.opts.nodes
      .update(n.id, n.version, { lastHeartbeatTime: this.now(), serving: true })
      .catch(() => undefined);
  }

  private async reconcileNode(
    node: { id: string; address: string },
    instances: Instance[],
    report: {
      promoted: string[];
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
    const byServer = new Map<string, Instance>();
    for (const i of instances) {
      if (i.serverId === "") continue;
      const seen = byServer.get(i.serverId);
      if (!seen || Number(i.createTime?.seconds ?? 0) >= Number(seen.createTime?.seconds ?? 0)) {
        byServer.set(i.serverId, i);
      }
    }
    const o = this.opts.orchestrator;
    for (const s of servers) {
      const inst = byServer.get(s.id);
      const age = now - s.createTime.getTime();
      try {
        switch (s.state) {
          case "PROVISIONING":
            if (inst?.state === InstanceState.READY) {
              await o.markReady(s.id, inst.id);
              report.promoted.push(s.id);
            } else if (
              inst?.state === InstanceState.FAILED ||
              inst?.state === InstanceState.STOPPED
            ) {
              await o.fail(
                s.id,
                "INSTANCE_FAILED",
                inst.stateMessage || "the instance failed while starting",
              );
              report.failed.push(s.id);
            } else if (inst && liveInstance.has(inst.state)) {
              // Still starting on the node: the node gives up itself (READINESS_TIMEOUT, then
              // FAILED), which the branch above turns into a FAILED server.
            } else if (age > timeout && !(await o.isBeingProvisioned(s.id))) {
              // No instance, and no live replica working on it: a replica died mid-create.
              await o.fail(s.id, "PROVISIONING_FAILED", `no instance within ${timeout} ms`);
              report.failed.push(s.id);
            }
            break;
          case "READY":
            if (inst === undefined || !liveInstance.has(inst.state)) {
              const failed = inst?.state === InstanceState.FAILED;
              await o.fail(
                s.id,
                failed ? "INSTANCE_FAILED" : "INSTANCE_VANISHED",
                failed
                  ? inst?.stateMessage || "the instance failed"
                  : "the node no longer runs the instance",
              );
              report.failed.push(s.id);
            } else if (await this.idleExpired(s, inst)) {
              await o.transition(s.id, "STOPPING", systemActor, {
                stateReason: "IDLE_TTL_EXPIRED",
                stateMessage: `idle for more than ${s.idleTtlMs} ms`,
              });
              await o.finishStop(s.id, true);
              report.stopped.push(s.id);
            }
            break;
          case "DRAINING":
            if ((inst?.connectionCount ?? 0) === 0 || (s.deleteDeadline?.getTime() ?? 0) <= now) {
              await o.transition(s.id, "STOPPING", systemActor);
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
    // Instances no live server owns.
    const live = new Set(servers.map((s) => s.id));
    for (const i of instances) {
      if (i.serverId === "" || live.has(i.serverId) || !liveInstance.has(i.state)) continue;
      // A server stored after this list was read is live by now: look again before stopping.
      const s = await this.opts.servers.find(i.serverId);
      if (s && liveServerStates.includes(s.state)) continue;
      await this.stopInstance(node, i.id);
      report.strayInstances.push(i.id);
    }
    // Port claims whose server is gone, or was never stored.
    const claims = await this.opts.ports.list(node.id, { signal });
    const livePorts = new Map(servers.map((s) => [s.port, s.id]));
    for (const [port, owner] of claims) {
      const { serverId, at } = parseClaimOwner(owner);
      if (livePorts.get(port) === serverId) continue;
      if (now - at < timeout) continue; // a create may still be on its way
      const s = await this.opts.servers.find(serverId);
      if (s && liveServerStates.includes(s.state) && s.port === port) continue;
      if (await this.opts.ports.release(node.id, port, owner)) report.releasedPorts++;
    }
  }

  /** True when a READY server with an idle TTL had no connection for that long. */
  private async idleExpired(s: ServerRecord, inst: Instance): Promise<boolean> {
    if (!s.idleTtlMs || s.idleTtlMs <= 0) return false;
    if (inst.connectionCount > 0) {
      const cur = await this.opts.servers.get(s.id);
      await this.opts.servers
        .update(cur.id, cur.version, { lastConnectionTime: this.now() })
        .catch(() => undefined);
      return false;
    }
    const since = (s.lastConnectionTime ?? s.readyTime ?? s.createTime).getTime();
    return this.now().getTime() - since > s.idleTtlMs;
  }

  private async stopInstance(node: { address: string }, instanceId: string): Promise<void> {
    try {
      await this.opts.clients.forNode(node).stopInstance({ instanceId, force: true });
    } catch (e) {
      if (ConnectError.from(e).code !== Code.NotFound) throw e;
    }
  }
}
