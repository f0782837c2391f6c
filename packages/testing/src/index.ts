/**
 * @lucid-rdp/testing: the test support every package and service shares. Private; imported by
 * tests, the chaos suite and the bench, never by a service.
 */
export {
  type CliTool,
  grpcurl,
  installHints,
  promtoolCheckMetrics,
  runTool,
  type ToolRun,
  toolOrSkip,
} from "./cli-tools.js";
export { connectErrorOf } from "./connect-error-of.js";
export { type Followed, type FollowOptions, follow } from "./follow.js";
export { createGrpcJsClient, statusDetails } from "./grpc-js-client.js";
export { killProcessTree } from "./kill-process-tree.js";
export {
  bindable,
  type DisplayRange,
  type Mesh,
  type MeshNode,
  type MeshOptions,
  type MeshServiceKind,
  meshDefaults,
  startMesh,
} from "./mesh.js";
export {
  type MeshFixture,
  type MeshFixtureHooks,
  type MeshFixtureTimeouts,
  meshFixture,
} from "./mesh-fixture.js";
export { type MeshWaitForOptions, meshWaitFor } from "./mesh-wait-for.js";
export { needOrSkip, type SkipContext, skipOrFail } from "./need-or-skip.js";
export { closeServer, portOf } from "./net-server.js";
export {
  type Account,
  clearDesktopProofs,
  desktopProofs,
  findAccount,
  type RdpClient,
  rdpConnect,
  rdpTools,
  startXvfb,
  testAccounts,
} from "./rdp-client.js";
export { foreignPageToken, refusalOf } from "./refusal.js";
export {
  acceptsConnections,
  freePort,
  MissingToolError,
  type RealServer,
  type RedisOptions,
  redisServerArgs,
  startMongoWire,
  startRedis,
} from "./servers.js";
export { sigterm } from "./signals.js";
export { type ChildServer, spawnService, tsxBin } from "./spawn-service.js";
export { countingCalls, withLatency } from "./store-proxies.js";
export { type StreamCallOptions, StreamRecorder } from "./stream-recorder.js";
export { TestClock, type TestClockOptions } from "./test-clock.js";
export { findTool, repoRoot, reportMissingTool } from "./tools.js";
export {
  type ChrootService,
  inRoot,
  killStateDirProcesses,
  rootAccount,
  runsInRoot,
  spawnChrootService,
  trixieMounts,
  trixieRoot,
  trixieRootMissing,
} from "./trixie-root.js";
export {
  createTypedGrpcJsClient,
  type GrpcJsCallOptions,
  type GrpcJsClient,
  type GrpcJsClientOptions,
} from "./typed-grpc-js-client.js";
export { type WaitForOptions, waitFor } from "./wait-for.js";
