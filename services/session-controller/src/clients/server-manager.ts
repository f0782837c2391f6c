/** What session-controller asks of server-manager, in domain terms. */
import type {
  ManagedNode,
  ManagedServer,
  ManagedServerEvent,
  ManagedServerState,
} from "../domain/managed-server.js";

/** Per-call options: cancellation and a deadline (0: none; unset: the client's default). */
export interface ServerCallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** A page of ListServers, with the cursor of the last server event at the time of the read. */
export interface ManagedServerPage {
  readonly servers: readonly ManagedServer[];
  readonly nextPageToken: string;
  readonly lastEventId: string;
}

/**
 * server-manager's RPCs that session-controller calls. Every failure is thrown as a
 * ServerManagerCallError: `definite` for a refusal, `notFound` for a server it does not know,
 * code "OutOfRange" for a WatchServers cursor too old.
 */
export interface ServerManagerClient {
  /** CreateServer for a session, idempotent by `requestId`: the server, once answered. */
  createServerForSession(
    req: {
      readonly requestId: string;
      readonly owner: string;
      readonly sessionId: string;
      /** How long server-manager waits for the server to be READY before it answers. */
      readonly waitTimeoutMs: number;
    },
    opts?: ServerCallOptions,
  ): Promise<ManagedServer | undefined>;
  /** GetServer. */
  getServer(serverId: string, opts?: ServerCallOptions): Promise<ManagedServer | undefined>;
  /** DeleteServer (`force`: without draining): the server as it is after the call. */
  deleteServer(
    serverId: string,
    req: { readonly force: boolean },
    opts?: ServerCallOptions,
  ): Promise<ManagedServer | undefined>;
  /** One page of ListServers, filtered by state (none: all). */
  listServers(
    req: {
      readonly states?: readonly ManagedServerState[];
      readonly pageSize: number;
      readonly pageToken?: string;
    },
    opts?: ServerCallOptions,
  ): Promise<ManagedServerPage>;
  /** WatchServers from after `afterEventId` (undefined: from now). */
  watchServers(
    afterEventId: string | undefined,
    opts?: ServerCallOptions,
  ): AsyncIterable<ManagedServerEvent>;
  /** ListNodes: every node with its address. */
  listNodes(opts?: ServerCallOptions): Promise<readonly ManagedNode[]>;
}
