/**
 * The ports of instances the node places itself (StartInstance with port 0, the warm pool): behind
 * the front door xrdp listens on a loopback port clients never see, so server-manager leases none
 * and the node picks the lowest port of NODE_PORT_RANGE that no live instance holds and that is
 * free on the host. Choices are made one at a time, and a port chosen stays reserved in memory
 * until its record holds it (`settle`); the store's unique port rule backs this across lives.
 */
import { NoFreePortError } from "../domain/instance-errors.js";
import { portIsFree } from "./port-free.js";

export interface NodePortsOptions {
  readonly range: { readonly start: number; readonly end: number };
  readonly listenAddress: string;
  /** The ports live instance records hold. */
  readonly livePorts: () => Promise<readonly number[]>;
}

export class NodePorts {
  private readonly reserved = new Set<number>();
  private choosing: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: NodePortsOptions) {}

  /** A free port, reserved until `settle(port)`. @throws NoFreePortError */
  choose(): Promise<number> {
    const chosen = this.choosing.then(() => this.chooseNow());
    this.choosing = chosen.catch(() => undefined);
    return chosen;
  }

  /** Ends the reservation of `port` (its record is stored, or its start failed). */
  settle(port: number): void {
    this.reserved.delete(port);
  }

  private async chooseNow(): Promise<number> {
    const { range, listenAddress } = this.opts;
    const held = new Set(await this.opts.livePorts());
    for (let port = range.start; port <= range.end; port++) {
      if (held.has(port) || this.reserved.has(port)) continue;
      if (!(await portIsFree(listenAddress, port))) continue;
      this.reserved.add(port);
      return port;
    }
    throw new NoFreePortError(range);
  }
}
