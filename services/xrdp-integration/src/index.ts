/**
 * xrdp-integration's public entry: createApp and its config, the clients of the services it
 * calls, and the host and domain helpers the mesh tests and the bench use.
 */
export {
  type AppDeps,
  createApp,
  type XrdpIntegrationApp,
  type XrdpIntegrationClients,
} from "./app.js";
export {
  type CallOptions,
  createServerManagerClient,
  createSessionControllerClient,
  type NodeHeartbeatAnswer,
  type ServerManagerClient,
  type SessionControllerClient,
} from "./clients/index.js";
export {
  readXrdpIntegrationConfig,
  runtimeDefaults,
  type XrdpIntegrationConfig,
} from "./config.js";
export { instancePaths } from "./domain/instance-paths.js";
export type { NodeRegistration, NodeStatus } from "./domain/node-registration.js";
export type { ConnectionChange, ObservedConnection } from "./domain/observed-connection.js";
export { resolveSettings } from "./domain/resolve-settings.js";
export { parseConnectionRequest } from "./domain/x224-connection-request.js";
export { defaultFloor, defaultSettings } from "./domain/xrdp-settings.js";
export {
  type DoorConnection,
  type DoorLimits,
  type DoorLookup,
  type DoorPeer,
  type DoorRefusal,
  RdpDoor,
  type RdpDoorOptions,
} from "./door/index.js";
export { writeSesmanIni, writeXrdpIni } from "./host/ini-files.js";
export {
  buildConnectionRequest,
  parseConnectionConfirm,
  probeRdp,
  probeUntilReady,
} from "./host/rdp-probe.js";
export { ensureTlsMaterial } from "./host/tls-material-files.js";
export { desktopProcesses, removeStaleDisplayFiles, xServerDisplay } from "./host/x-displays.js";
