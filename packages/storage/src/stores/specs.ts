/** The collections every service may share, and their indexes. */
import type { CollectionSpec } from "../documents/collection.js";
import type { AuditEventRecord, IdempotencyRecord } from "./records.js";

export const idempotencySpec: CollectionSpec<IdempotencyRecord> = {
  name: "idempotency",
  indexes: ["expireTime"],
};

export const auditEventSpec: CollectionSpec<AuditEventRecord> = {
  name: "audit_events",
  indexes: ["time", "resourceId", "actorSubject"],
};
