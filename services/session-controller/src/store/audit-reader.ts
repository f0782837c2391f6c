/** The reads of the audit log (ListAuditEvents), in domain terms. */
import type { AuditEventRecord, AuditEventStore, ListOptions, Page } from "@lucid-rdp/storage";

/** The filters of ListAuditEvents; an unset field does not filter. */
export interface AuditFilter {
  readonly resourceType?: AuditEventRecord["resourceType"];
  readonly resourceId?: string;
  /** The actor's subject. */
  readonly subject?: string;
  readonly action?: string;
  /** Events at or after this time (applied to the page read). */
  readonly startTime?: Date;
  /** Events before this time (applied to the page read). */
  readonly endTime?: Date;
}

/** Reads the audit log; never writes. */
export class AuditReader {
  constructor(private readonly store: AuditEventStore) {}

  /**
   * One page of the audit events matching `filter`, newest first. The time range filters the
   * page read, so a page may hold fewer events than its size; the token still moves on.
   * @throws InvalidPageTokenError
   */
  async list(
    filter: AuditFilter,
    page: Omit<ListOptions<AuditEventRecord>, "where"> = {},
  ): Promise<Page<AuditEventRecord>> {
    const read = await this.store.list({
      where: {
        ...(filter.resourceType ? { resourceType: filter.resourceType } : {}),
        ...(filter.resourceId ? { resourceId: filter.resourceId } : {}),
        ...(filter.subject ? { actorSubject: filter.subject } : {}),
        ...(filter.action ? { action: filter.action } : {}),
      },
      ...page,
    });
    const start = filter.startTime?.getTime();
    const end = filter.endTime?.getTime();
    return {
      items: read.items.filter(
        (e) =>
          (start === undefined || e.time.getTime() >= start) &&
          (end === undefined || e.time.getTime() < end),
      ),
      nextPageToken: read.nextPageToken,
    };
  }
}
