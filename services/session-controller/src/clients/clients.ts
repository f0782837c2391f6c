/** The downstream services session-controller calls, as createApp takes them. */
import type { UsageLookup } from "@lucid-rdp/runtime";
import type { ServerManagerClient } from "./server-manager.js";
import type { XrdpNodeClient } from "./xrdp-node.js";

/** session-controller's clients: each optional, each a domain-typed interface. */
export interface SessionControllerClients {
  /** Where servers come from; without one, CreateSession fails FAILED_PRECONDITION. */
  readonly serverManager?: ServerManagerClient;
  /** CPU and memory of a server from its host's resource-monitor. @default none (no usage) */
  readonly usage?: UsageLookup;
  /**
   * The xrdp-integration at a node's base URL (connection repair).
   * @default a gRPC mesh client with a 3 s deadline and the mesh token
   */
  readonly nodeClient?: (baseUrl: string) => XrdpNodeClient;
}
