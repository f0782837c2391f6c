/**
 * The reads of server records, in domain terms: one server, a filtered page of them. The
 * ServerRepository (every change) is one; the handler reads through it.
 */
import type { CallOptions, Labels, ListOptions, Page } from "@lucid-rdp/storage";
import type { ServerState } from "../domain/server-state.js";
import type { ServerRecord } from "../store/records.js";
import type { ServerStore } from "../store/stores.js";

/** The filters of ListServers; an unset (or empty) field does not filter. */
export interface ServerFilter {
  /** Servers in one of these states. */
  readonly states?: readonly ServerState[];
  readonly nodeId?: string;
  readonly owner?: string;
  /** Servers carrying every one of these labels. */
  readonly labels?: Labels;
}

/** Which page to read: its size and the previous page's token. */
export type ServerPageRequest = Omit<ListOptions<ServerRecord>, "where">;

/** Reads server records; never writes. */
export class ServerReader {
  constructor(protected readonly servers: ServerStore) {}

  /** The server. @throws NotFoundError */
  get(id: string, opts?: CallOptions): Promise<ServerRecord> {
    return this.servers.get(id, opts);
  }

  /** The server, or undefined. */
  find(id: string, opts?: CallOptions): Promise<ServerRecord | undefined> {
    return this.servers.find(id, opts);
  }

  /** One page of the servers matching `filter`, newest first. @throws InvalidPageTokenError */
  list(filter: ServerFilter, page: ServerPageRequest = {}): Promise<Page<ServerRecord>> {
    const states = filter.states ?? [];
    const labels = filter.labels ?? {};
    return this.servers.list({
      where: {
        ...(states.length > 0 ? { state: { in: states } } : {}),
        ...(filter.nodeId ? { nodeId: filter.nodeId } : {}),
        ...(filter.owner ? { owner: filter.owner } : {}),
        ...(Object.keys(labels).length > 0 ? { labels: { contains: labels } } : {}),
      },
      ...page,
    });
  }
}
