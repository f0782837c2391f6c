/**
 * server-manager as a package: createApp and what it is built from (config, clients), for the
 * tests and the bench. The process itself is src/main.ts.
 */
export { type App, type AppDeps, createApp, type ServerManagerBackends } from "./app.js";
export {
  createServerManagerClients,
  type ServerManagerClients,
} from "./clients/server-manager-clients.js";
export type { StartInstanceInput, XrdpNode, XrdpNodes } from "./clients/xrdp-node.js";
export {
  type XrdpClient,
  XrdpNodeClients,
  type XrdpNodeClientsOptions,
  xrdpNodeOf,
} from "./clients/xrdp-node-clients.js";
export {
  readServerManagerConfig,
  runtimeDefaults,
  type ServerManagerConfig,
  type StaticNode,
} from "./config.js";
export type { InstanceState, NodeInstance } from "./domain/node-instance.js";
export { defaultPortRange, type PortRange, scanOffset } from "./domain/port-pool.js";
export type { XrdpSettings } from "./domain/xrdp-settings.js";
export { claimOwner, parseClaimOwner, serverIdFor } from "./servers/server-ids.js";
