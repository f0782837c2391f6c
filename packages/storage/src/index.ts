export { type Backends, type OpenBackendsOptions, openBackends } from "./backends.js";
export { readStorageConfig, type StorageConfig } from "./config.js";
export {
  BusWakeups,
  type BusWakeupsOptions,
  WAKEUP_RECHECK_MS,
  type WaitUntilOptions,
  type Wakeup,
  type WakeupReason,
} from "./coordination/bus-wakeups.js";
export * from "./coordination/index.js";
export type {
  CallOptions,
  Changes,
  Collection,
  CollectionSpec,
  Condition,
  ListOptions,
  NewRecord,
  Page,
  UniqueRule,
  Versioned,
  Where,
} from "./documents/collection.js";
export { defaultPageSize, maxPageSize } from "./documents/collection.js";
export { createMemoryCollection } from "./documents/memory-collection.js";
export { createMongoCollection, type MongoBackedCollection } from "./documents/mongo-collection.js";
export {
  type AuditDraft,
  type EventDraft,
  type Modification,
  type ModifyOptions,
  type OutboxEntry,
  type Outboxed,
  Repository,
  type RepositoryOptions,
} from "./documents/repository.js";
export { reviveDates } from "./documents/revive-dates.js";
export {
  createSqliteCollection,
  type SqliteCollectionOptions,
} from "./documents/sqlite-collection.js";
export {
  DatabaseInUseError,
  type OpenSqliteOptions,
  openSqliteDatabase,
  type SqliteDatabase,
} from "./documents/sqlite-database.js";
export { storageErrorRules } from "./error-rules.js";
export {
  AlreadyExistsError,
  BackendUnavailableError,
  ConflictError,
  InvalidPageTokenError,
  NotFoundError,
} from "./errors.js";
export {
  type IdempotentOptions,
  paramsHash,
  RequestIdReusedError,
  RequestInProgressError,
  runIdempotent,
} from "./stores/idempotency.js";
export * from "./stores/records.js";
export * from "./stores/specs.js";
export {
  type AuditEventStore,
  createMemoryStores,
  createMongoStores,
  createSqliteStores,
  type IdempotencyStore,
  type MongoStores,
  type SpecMap,
  type StoresOf,
  sharedSpecs,
  sweepExpired,
} from "./stores/stores.js";
