/**
 * The records every service may keep (idempotency, audit), and the shapes they share, as plain TypeScript: no proto types, no Mongo documents. Each
 * service maps them to and from its contract messages at the edge, by whitelisting fields.
 * Durations are milliseconds; times are Dates.
 */
import type { Versioned } from "../documents/collection.js";

export type Labels = Readonly<Record<string, string>>;

// ---- shared ----------------------------------------------------------------------------------

/** The first outcome of a create, by request id (AIP-155). */
export interface IdempotencyRecord extends Versioned {
  /** The method, e.g. "CreateSession". */
  readonly scope: string;
  readonly requestId: string;
  /** A digest of the request's parameters: the same id with other parameters is refused. */
  readonly paramsHash: string;
  readonly state: "PENDING" | "DONE";
  /** The created resource's id once DONE. */
  readonly resultId?: string;
  readonly expireTime: Date;
}

/** Who did what to which resource, and when. */
export interface AuditEventRecord extends Versioned {
  readonly time: Date;
  readonly actorSubject: string;
  readonly actorRoles: readonly string[];
  readonly action: string;
  readonly resourceType: "session" | "server" | "node" | "instance" | "alert_rule" | "alert";
  readonly resourceId: string;
  readonly requestId?: string;
  readonly details: Labels;
}
