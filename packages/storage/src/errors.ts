/**
 * Errors the stores throw. Plain classes carrying the ids involved; the services' edge maps them to
 * Connect codes (see error-rules.ts). Stores never throw ConnectError.
 */

/** Thrown when a record with the given id does not exist. */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
  constructor(
    readonly collection: string,
    readonly id: string,
  ) {
    super(`${singular(collection)} ${id} not found`);
  }
}

/**
 * Thrown when an update was based on a version that is no longer current: another writer won.
 * The caller reads again and retries, or reports ABORTED.
 */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  constructor(
    readonly collection: string,
    readonly id: string,
    readonly expectedVersion: number,
  ) {
    super(
      `${singular(collection)} ${id} was changed concurrently (expected version ${expectedVersion})`,
    );
  }
}

/** Thrown when a write would break a uniqueness rule (the same id, or a unique key in use). */
export class AlreadyExistsError extends Error {
  override readonly name = "AlreadyExistsError";
  constructor(
    readonly collection: string,
    /** "id" or the name of the unique key that clashed. */
    readonly key: string,
    readonly value: string,
  ) {
    super(
      key === "id"
        ? `${singular(collection)} ${value} already exists`
        : `${singular(collection)} with ${key} ${value} already exists`,
    );
  }
}

/** Thrown when a backend cannot be reached or does not answer in time. */
export class BackendUnavailableError extends Error {
  override readonly name = "BackendUnavailableError";
  constructor(
    readonly backend: "redis" | "mongodb",
    cause?: unknown,
  ) {
    super(`${backend} is unavailable`, { cause });
  }
}

/** Thrown when a page token was not issued by this collection or is malformed. */
export class InvalidPageTokenError extends Error {
  override readonly name = "InvalidPageTokenError";
  constructor(readonly collection: string) {
    super(`invalid page token for ${collection}`);
  }
}

function singular(collection: string): string {
  const words: Record<string, string> = {
    servers: "server",
    nodes: "node",
    instances: "instance",
    sessions: "session",
    alert_rules: "alert rule",
    alerts: "alert",
    idempotency: "request",
    audit_events: "audit event",
  };
  return words[collection] ?? collection;
}
