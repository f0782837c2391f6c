/** The services xrdp-integration calls, as domain-typed interfaces, and their Connect adapters. */
export {
  type CallOptions,
  createServerManagerClient,
  type NodeHeartbeatAnswer,
  type ServerManagerClient,
  type ServerManagerClientOptions,
} from "./server-manager-client.js";
export {
  createSessionControllerClient,
  type SessionControllerClient,
  type SessionControllerClientOptions,
} from "./session-controller-client.js";
