/** session-controller, as the monitor calls it: which server a session runs on. */
import type { Client } from "@connectrpc/connect";
import { SessionControllerService } from "@lucid-rdp/gen";
import { createMeshClient, type MeshClientOptions } from "@lucid-rdp/runtime";

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

/** The real session-controller client, over the mesh. */
export function createSessionControllerClient(opts: MeshClientOptions): SessionControllerClient {
  return sessionControllerClientOver(
    createMeshClient(SessionControllerService, { ...opts, deadlineMs: opts.deadlineMs ?? 5_000 }),
  );
}
