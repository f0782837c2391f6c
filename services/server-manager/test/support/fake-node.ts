/**
 * A node's xrdp-integration API as server-manager uses it, in memory: StartInstance is
 * idempotent by request id (a repeat returns the instance it started), and each call can be
 * scripted to fail before or after it started the instance, as a node that crashes does. Asked
 * for port 0, it acts as a node with an RDP front door: the instance gets a routing token, the
 * same for every repeat of its request id, carried by StartInstance's answer only (ListInstances
 * leaves it out, as the real node does).
 */
import { randomBytes } from "node:crypto";
import { clone, create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import {
  type Instance,
  InstanceSchema,
  InstanceState,
  type StartInstanceRequest,
} from "@lucid-rdp/gen";

/** What the next StartInstance does: fail before starting, start then fail, or answer. */
export type StartScript =
  | { readonly fail: ConnectError; readonly after?: boolean }
  | { readonly state: InstanceState };

export class FakeNode {
  /** Instances by the request id that started them. */
  readonly instances = new Map<string, Instance>();
  /** Every StartInstance request, in order. */
  readonly starts: StartInstanceRequest[] = [];
  /** Scripts for the next StartInstance calls; then every start is READY. */
  readonly script: StartScript[] = [];
  /** While set, every call fails with it (the node is down). */
  down: ConnectError | undefined;
  /** Whether an instance asked for port 0 gets a routing token (false: a node breaking the contract). */
  giveTokens = true;

  async startInstance(req: StartInstanceRequest) {
    this.starts.push(req);
    if (this.down) throw this.down;
    const step = this.script.shift() ?? { state: InstanceState.READY };
    if ("fail" in step && !step.after) throw step.fail;
    let instance = this.instances.get(req.requestId);
    if (instance === undefined) {
      instance = create(InstanceSchema, {
        id: `instance-${this.instances.size + 1}`,
        serverId: req.serverId,
        port: req.port,
        routingToken:
          req.port === 0 && this.giveTokens ? `lr1-${randomBytes(24).toString("base64url")}` : "",
        state: "state" in step ? step.state : InstanceState.READY,
        createTime: timestampFromDate(new Date()),
      });
      this.instances.set(req.requestId, instance);
    }
    if ("fail" in step) throw step.fail;
    return { instance };
  }

  async listInstances() {
    if (this.down) throw this.down;
    const instances = [...this.instances.values()].map((i) => {
      const listed = clone(InstanceSchema, i);
      listed.routingToken = "";
      return listed;
    });
    return { instances, nextPageToken: "" };
  }

  async stopInstance(req: { instanceId: string }) {
    if (this.down) throw this.down;
    for (const i of this.instances.values()) {
      if (i.id === req.instanceId) i.state = InstanceState.STOPPED;
    }
    return {};
  }

  async listConnections() {
    return { connections: [], nextPageToken: "" };
  }

  /** Live instances (STARTING or READY). */
  live(): Instance[] {
    return [...this.instances.values()].filter(
      (i) => i.state === InstanceState.READY || i.state === InstanceState.STARTING,
    );
  }
}
