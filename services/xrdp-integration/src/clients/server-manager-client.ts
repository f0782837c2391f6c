/** server-manager as this service calls it: the node's heartbeat (RegisterNode). */
import { durationMs } from "@bufbuild/protobuf/wkt";
import { ServerManagerService } from "@lucid-rdp/gen";
import { createMeshClient, type MeshClientOptions, routineHeader } from "@lucid-rdp/runtime";
import type { NodeRegistration, NodeStatus } from "../domain/node-registration.js";
import { buildRegisterNodeRequest } from "./register-node-request.js";

/** Per-call options of {@link ServerManagerClient}. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's deadline for this call. */
  readonly timeoutMs?: number;
}

/** What server-manager answers a heartbeat. */
export interface NodeHeartbeatAnswer {
  /** When to send the next heartbeat; undefined: the node decides. */
  readonly heartbeatIntervalMs?: number;
  /** Whether server-manager has the node draining (DrainNode); undefined: not said. */
  readonly draining?: boolean;
}

/** What this service asks of server-manager, in domain terms. */
export interface ServerManagerClient {
  /** Registers the node or renews its lease, reporting its health. */
  registerNode(
    node: NodeRegistration,
    status: NodeStatus,
    options?: CallOptions,
  ): Promise<NodeHeartbeatAnswer>;
}

/** server-manager over the generated Connect client (the mesh client: deadline, retries). */
export function createServerManagerClient(opts: MeshClientOptions): ServerManagerClient {
  const client = createMeshClient(ServerManagerService, {
    ...opts,
    deadlineMs: opts.deadlineMs ?? 3_000,
  });
  return {
    async registerNode(node, status, options = {}) {
      const res = await client.registerNode(buildRegisterNodeRequest(node, status), {
        // A heartbeat: server-manager logs it at debug when it succeeds.
        headers: { [routineHeader]: "heartbeat" },
        ...(options.signal && { signal: options.signal }),
        ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      });
      return {
        ...(res.heartbeatInterval !== undefined && {
          heartbeatIntervalMs: durationMs(res.heartbeatInterval),
        }),
        ...(res.node !== undefined && { draining: res.node.draining }),
      };
    },
  };
}
