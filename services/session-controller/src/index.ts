/** session-controller's public entry: createApp, its config and clients, for tests and the bench. */
export {
  createApp,
  type SessionControllerApp,
  type SessionControllerAppDeps,
  type SessionControllerBackends,
  type SessionControllerStartOptions,
} from "./app.js";
export type { SessionControllerClients } from "./clients/clients.js";
export { createClients, meshNodeClients } from "./clients/create-clients.js";
export type {
  ManagedServerPage,
  ServerCallOptions,
  ServerManagerClient,
} from "./clients/server-manager.js";
export { createServerManagerClient } from "./clients/server-manager-adapter.js";
export type { XrdpNodeClient } from "./clients/xrdp-node.js";
export { createXrdpNodeClient } from "./clients/xrdp-node-adapter.js";
export {
  readSessionControllerConfig,
  runtimeDefaults,
  type SessionControllerConfig,
} from "./config.js";
export { type Actor, systemActor } from "./domain/actor.js";
export type {
  ManagedNode,
  ManagedServer,
  ManagedServerEvent,
  ManagedServerState,
} from "./domain/managed-server.js";
export { sessionStates } from "./domain/session-state.js";
export { liveSessionStates } from "./domain/session-values.js";
export { errorRules } from "./error-rules.js";
export { rdpFileRoute } from "./http-routes.js";
export { routes } from "./routes.js";
export { SessionControllerHandler } from "./service/session-controller-service.js";
export { Sessions } from "./sessions/sessions.js";
