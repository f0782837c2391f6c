/**
 * The nodes' xrdp-integration APIs over gRPC with deadlines, one client per node address: the
 * adapter of the XrdpNodes port, mapping domain <-> contract messages and the node's errors.
 */
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  type Instance,
  InstanceState,
  StartInstanceRequestSchema,
  XrdpIntegrationService,
  XrdpSettingsSchema,
} from "@lucid-rdp/gen";
import { createMeshClient } from "@lucid-rdp/runtime";
import type {
  InstanceState as DomainInstanceState,
  NodeInstance,
} from "../domain/node-instance.js";
import { StartInstanceFailedError } from "../domain/start-instance-failed-error.js";
import type { NodeRecord } from "../store/records.js";
import { startFailureOf } from "./start-errors.js";
import type { StartInstanceInput, XrdpNode, XrdpNodes } from "./xrdp-node.js";

/** The generated client of a node's xrdp-integration. */
export type XrdpClient = Client<typeof XrdpIntegrationService>;

/** Options of {@link XrdpNodeClients}. */
export interface XrdpNodeClientsOptions {
  /** Deadline of each call (StartInstance takes its own). */
  readonly deadlineMs: number;
  /** A bearer token, when the nodes require auth. @default none */
  readonly token?: string;
}

/** The XrdpNodes port over real gRPC clients, one per node address. */
export class XrdpNodeClients implements XrdpNodes {
  private readonly nodes = new Map<string, XrdpNode>();

  constructor(private readonly opts: XrdpNodeClientsOptions) {}

  /** The node at http://address. */
  forNode(node: Pick<NodeRecord, "address">): XrdpNode {
    let n = this.nodes.get(node.address);
    if (n === undefined) {
      n = xrdpNodeOf(
        createMeshClient(XrdpIntegrationService, {
          baseUrl: `http://${node.address}`,
          deadlineMs: this.opts.deadlineMs,
          token: this.opts.token,
        }),
      );
      this.nodes.set(node.address, n);
    }
    return n;
  }
}

/** A contract Instance in domain terms. */
export function instanceFromProto(i: Instance): NodeInstance {
  const t = i.createTime;
  return {
    id: i.id,
    serverId: i.serverId,
    state: (InstanceState[i.state] as DomainInstanceState | undefined) ?? "UNSPECIFIED",
    stateMessage: i.stateMessage,
    connectionCount: i.connectionCount,
    createTime:
      t === undefined ? undefined : new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)),
    ...(i.routingToken !== "" ? { routingToken: i.routingToken } : {}),
  };
}

/** The XrdpNode port over one generated client (a real one, or a test's fake of it). */
export function xrdpNodeOf(client: XrdpClient): XrdpNode {
  return {
    async startInstance(input: StartInstanceInput) {
      try {
        const res = await client.startInstance(
          create(StartInstanceRequestSchema, {
            requestId: input.requestId,
            serverId: input.serverId,
            owner: input.owner,
            port: input.port,
            settings: input.settings
              ? fromJson(XrdpSettingsSchema, input.settings as JsonValue)
              : undefined,
            waitTimeout: durationFromMs(input.waitMs),
          }),
          { timeoutMs: input.timeoutMs },
        );
        return res.instance ? instanceFromProto(res.instance) : undefined;
      } catch (e) {
        const err = ConnectError.from(e);
        throw new StartInstanceFailedError(startFailureOf(err), err.rawMessage, { cause: err });
      }
    },

    async stopInstance(instanceId: string, force: boolean) {
      try {
        await client.stopInstance({ instanceId, force });
      } catch (e) {
        if (ConnectError.from(e).code !== Code.NotFound) throw e;
      }
    },

    async listInstances(opts: { signal?: AbortSignal } = {}) {
      const out: NodeInstance[] = [];
      let pageToken = "";
      do {
        const page = await client.listInstances(
          { pageSize: 1000, pageToken },
          { signal: opts.signal },
        );
        out.push(...page.instances.map(instanceFromProto));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return out;
    },

    async connectionCount(instanceId: string) {
      const res = await client.listConnections({ instanceId, pageSize: 1000 });
      return res.connections.length;
    },
  };
}
