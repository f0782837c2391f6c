export {
  type Authenticator,
  allowedRoles,
  authInterceptor,
  authorize,
  createAuthenticator,
  openServices,
  type Principal,
  principalKey,
  roleName,
} from "./auth.js";
export { type Clock, createClock, systemClock } from "./clock.js";
export { ConfigError, type Env, EnvReader, exitOnConfigError, isLoopbackHost } from "./config.js";
export { type CorsPolicy, createCorsPolicy } from "./cors.js";
export { durationMs } from "./duration.js";
export { edgeInterceptor } from "./edge/edge-interceptor.js";
export {
  createEdgeAdapter,
  type EdgeAdapterOptions,
  type RefusedCall,
} from "./edge/node-adapter.js";
export {
  defineErrorRule,
  ErrorMapper,
  type ErrorRule,
  errorDomain,
  errorWithInfo,
  type FieldViolation,
  invalidArgument,
} from "./errors.js";
export { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
export {
  type CheckResult,
  type DependencyCheck,
  HealthMonitor,
  type HealthReport,
  ServingStatus,
} from "./health.js";
export { exitOnSignals, type LoadedConfig, listenOrExit, loadConfig } from "./lifecycle.js";
export { http2Preface, sniffProtocol } from "./listener.js";
export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export {
  createMeshClient,
  isIdempotent,
  type MeshClientOptions,
  retryInterceptor,
} from "./mesh-client.js";
export { grpcCodeName, requestIdHeader, routineHeader } from "./observe.js";
export type { RawProtocol } from "./raw-protocol.js";
export { readNodeId } from "./read-node-id.js";
export {
  type AuthConfig,
  type LogLevel,
  logLevels,
  type RuntimeConfig,
  type RuntimeDefaults,
  readRuntimeConfig,
} from "./runtime-config.js";
export {
  type HttpHandler,
  ListenError,
  type RunningServer,
  type ServerOptions,
  startServer,
} from "./server.js";
export { stableUuid } from "./stable-uuid.js";
export {
  createHostHealthLookup,
  createUsageLookup,
  type HostHealthLookup,
  type UsageLookup,
} from "./usage-lookup.js";
