/** The services xrdp-integration calls, as domain-typed interfaces, and their Connect adapters. */
export {
  type CallOptions,
  createServerManagerClient,
  type NodeHeartbeatAnswer,
  type ServerManagerClient,
} from "./server-manager-client.js";
export {
  createSessionControllerClient,
  type SessionControllerClient,
} from "./session-controller-client.js";
