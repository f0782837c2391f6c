/** resource-monitor's public entry point: its composition root, config and client interfaces. */
export {
  type AppDeps,
  type AppServer,
  createApp,
  type ResourceMonitorApp,
  type ResourceMonitorBackends,
} from "./app.js";
export {
  createResourceMonitorClients,
  type ResourceMonitorClients,
} from "./clients/resource-monitor-clients.js";
export {
  createSessionControllerClient,
  type SessionControllerClient,
  sessionControllerClientOver,
} from "./clients/session-controller-client.js";
export {
  createXrdpIntegrationClient,
  type XrdpIntegrationClient,
  xrdpIntegrationClientOver,
} from "./clients/xrdp-integration-client.js";
export {
  type ResourceMonitorConfig,
  readResourceMonitorConfig,
  runtimeDefaults,
} from "./config.js";
export type { InstanceState, XrdpInstance } from "./domain/xrdp-instance.js";
export { errorRules } from "./error-rules.js";
export {
  type ProcessSample,
  ProcessSampler,
  type ProcessSamplerOptions,
} from "./sampling/process-sampler.js";
export { resourceMonitorSpecs } from "./store/specs.js";
