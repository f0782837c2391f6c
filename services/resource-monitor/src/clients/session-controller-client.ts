/** session-controller, as the monitor calls it: which server a session runs on. */
import type { Client } from "@connectrpc/connect";
import { SessionControllerService, SessionState } from "@lucid-rdp/gen";
import { createMeshClient, type MeshClientOptions } from "@lucid-rdp/runtime";

/** What the monitor asks of session-controller. */
export interface SessionControllerClient {
  /**
   * The id of the server `sessionId` runs on; empty when it has none. A session that does not
   * exist, or a failed call, rejects with session-controller's error as is.
   */
  serverIdOfSession(sessionId: string, signal?: AbortSignal): Promise<string>;
  /**
   * The id of the session that owns `serverId`: its newest session that has not ended, else its
   * newest ended one; empty when no session has it. A failed call rejects with the error as is.
   */
  sessionIdOfServer(serverId: string, signal?: AbortSignal): Promise<string>;
}

/** Session states after which a session no longer owns its server. */
const endedStates: readonly SessionState[] = [SessionState.TERMINATED, SessionState.FAILED];

/** The adapter over a generated SessionControllerService client. */
export function sessionControllerClientOver(
  client: Client<typeof SessionControllerService>,
): SessionControllerClient {
  return {
    async serverIdOfSession(sessionId, signal) {
      const s = await client.getSession({ sessionId }, { signal });
      return s.session?.serverId ?? "";
    },
    async sessionIdOfServer(serverId, signal) {
      // Sessions come newest first; a server has few, so one page of 50 holds them all.
      const { sessions } = await client.listSessions({ serverId, pageSize: 50 }, { signal });
      const live = sessions.find((s) => !endedStates.includes(s.state));
      return (live ?? sessions[0])?.id ?? "";
    },
  };
}

/** The real session-controller client, over the mesh. */
export function createSessionControllerClient(opts: MeshClientOptions): SessionControllerClient {
  return sessionControllerClientOver(
    createMeshClient(SessionControllerService, { ...opts, deadlineMs: opts.deadlineMs ?? 5_000 }),
  );
}
