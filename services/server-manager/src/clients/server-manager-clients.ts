/** The downstream services server-manager calls, as the ports createApp takes. */
import {
  createHostHealthLookup,
  createUsageLookup,
  type HostHealthLookup,
  type UsageLookup,
} from "@lucid-rdp/runtime";
import type { ServerManagerConfig } from "../config.js";
import type { XrdpNodes } from "./xrdp-node.js";
import { XrdpNodeClients } from "./xrdp-node-clients.js";

/** Every client server-manager needs; tests give fakes. */
export interface ServerManagerClients {
  /** The nodes' xrdp-integrations. */
  readonly nodes: XrdpNodes;
  /** The host's resource-monitor verdict: nodes whose health is fatal get no new servers. @default none */
  readonly hostHealth?: HostHealthLookup;
  /** CPU and memory of a server from its host's resource-monitor (GetServer). @default none */
  readonly usage?: UsageLookup;
}

/** The real clients, over gRPC, as the config says (node deadline, mesh token, resource-monitor URL). */
export function createServerManagerClients(config: ServerManagerConfig): ServerManagerClients {
  return {
    nodes: new XrdpNodeClients({ deadlineMs: config.nodeDeadlineMs, token: config.meshToken }),
    hostHealth: createHostHealthLookup(config.resourceMonitorUrl, config.meshToken),
    usage: createUsageLookup(config.resourceMonitorUrl, config.meshToken),
  };
}
