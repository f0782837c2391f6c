/** session-controller, as the monitor calls it: which server a session runs on. */
import type { Client } from "@connectrpc/connect";
import { SessionControllerService } from "@lucid-rdp/gen";
import { createMeshClient } from "@lucid-rdp/runtime";

/** What the monitor asks of session-controller. */
export interface SessionControllerClient {
  /**
   * The id of the server `sessionId` runs on; empty when it has none. A session that does not
   * exist, or a failed call, rejects with session-controller's error as is.
   */
  serverIdOfSession(sessionId: string, signal?: AbortSignal): Promise<string>;
}

/** The adapter over a generated SessionControllerService client. */
export function sessionControllerClientOver(
  client: Client<typeof SessionControllerService>,
): SessionControllerClient {
  return {
    async serverIdOfSession(sessionId, signal) {
      const s = await client.getSession({ sessionId }, { signal });
      return s.session?.serverId ?? "";
    },
  };
}

/** Options of createSessionControllerClient. */
export interface SessionControllerClientOptions {
  /** session-controller's URL (SESSION_CONTROLLER_URL). */
  readonly baseUrl: string;
  /** The mesh token (MESH_TOKEN). @default none */
  readonly token?: string;
  /** Deadline of every call. @default 5000 */
  readonly deadlineMs?: number;
}

/** The real session-controller client, over the mesh. */
export function createSessionControllerClient(
  opts: SessionControllerClientOptions,
): SessionControllerClient {
  return sessionControllerClientOver(
    createMeshClient(SessionControllerService, {
      baseUrl: opts.baseUrl,
      deadlineMs: opts.deadlineMs ?? 5_000,
      token: opts.token,
    }),
  );
}
