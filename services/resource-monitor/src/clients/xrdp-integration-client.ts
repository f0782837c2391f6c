/** This node's xrdp-integration, as the monitor calls it: its instances, in domain terms. */
import type { Client } from "@connectrpc/connect";
import {
  type Instance,
  InstanceState as ProtoInstanceState,
  XrdpIntegrationService,
} from "@lucid-rdp/gen";
import { createMeshClient, type MeshClientOptions } from "@lucid-rdp/runtime";
import type { InstanceState, XrdpInstance } from "../domain/xrdp-instance.js";

/** What the monitor asks of xrdp-integration. */
export interface XrdpIntegrationClient {
  /** The instances of this node (the first 1000). */
  listInstances(signal?: AbortSignal): Promise<readonly XrdpInstance[]>;
}

/** InstanceState of the proto -> the domain's; UNSPECIFIED has no domain value. */
export const instanceStateFromProto: Readonly<
  Record<Exclude<ProtoInstanceState, ProtoInstanceState.UNSPECIFIED>, InstanceState>
> = {
  [ProtoInstanceState.STARTING]: "STARTING",
  [ProtoInstanceState.READY]: "READY",
  [ProtoInstanceState.RESTARTING]: "RESTARTING",
  [ProtoInstanceState.STOPPING]: "STOPPING",
  [ProtoInstanceState.STOPPED]: "STOPPED",
  [ProtoInstanceState.FAILED]: "FAILED",
};

/** A proto Instance as the domain's XrdpInstance (whitelisting the fields the monitor reads). */
export function instanceFromProto(i: Instance): XrdpInstance {
  return {
    id: i.id,
    serverId: i.serverId,
    state: (instanceStateFromProto as Partial<Record<number, InstanceState>>)[i.state],
    pid: i.pid,
    sesmanPid: i.sesmanPid,
  };
}

/** The adapter over a generated XrdpIntegrationService client. */
export function xrdpIntegrationClientOver(
  client: Client<typeof XrdpIntegrationService>,
): XrdpIntegrationClient {
  return {
    async listInstances(signal) {
      const res = await client.listInstances({ pageSize: 1000 }, { signal });
      return res.instances.map(instanceFromProto);
    },
  };
}

/** The real xrdp-integration client, over the mesh. */
export function createXrdpIntegrationClient(opts: MeshClientOptions): XrdpIntegrationClient {
  return xrdpIntegrationClientOver(
    createMeshClient(XrdpIntegrationService, { ...opts, deadlineMs: opts.deadlineMs ?? 3_000 }),
  );
}
