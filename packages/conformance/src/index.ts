/**
 * @lucid-rdp/conformance: the ConformanceService of the official Connect conformance suite, served
 * by @lucid-rdp/runtime, and the pieces of the server entry the suite's runner starts. Private.
 */
export {
  type ConformanceSchema,
  conformancePackage,
  loadConformanceSchema,
} from "./conformance-schema.js";
export { conformanceRoutes } from "./conformance-service.js";
export type {
  ErrorShape,
  HeaderShape,
  ServerCompatRequestShape,
  StreamRequestShape,
  StreamResponseDefinitionShape,
  TlsCredsShape,
  UnaryRequestShape,
  UnaryResponseDefinitionShape,
} from "./conformance-shapes.js";
export { readSizeDelimited, sizeDelimited } from "./size-delimited.js";
export {
  conformanceEnv,
  type StartConformanceServerOptions,
  type StartedConformanceServer,
  startConformanceServer,
} from "./start-conformance-server.js";
