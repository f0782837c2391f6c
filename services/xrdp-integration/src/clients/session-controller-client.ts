/** session-controller as this service calls it: connection reports (ReportConnectionEvent). */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConnectionEventType,
  EndpointSchema,
  ReportConnectionEventRequestSchema,
  SessionControllerService,
} from "@lucid-rdp/gen";
import { createMeshClient } from "@lucid-rdp/runtime";
import type { ConnectionChange } from "../domain/observed-connection.js";

/** What this service asks of session-controller, in domain terms. */
export interface SessionControllerClient {
  /** Reports a change of an instance's connections; retried reports share the request id. */
  reportConnectionEvent(change: ConnectionChange): Promise<void>;
}

/** Options of {@link createSessionControllerClient}. */
export interface SessionControllerClientOptions {
  /** session-controller's base URL (SESSION_CONTROLLER_URL). */
  readonly baseUrl: string;
  /** A bearer token with the service role (MESH_TOKEN). */
  readonly token?: string;
  /** Deadline of each call, retries included. @default 3000 */
  readonly deadlineMs?: number;
}

/** session-controller over the generated Connect client (the mesh client: deadline, retries). */
export function createSessionControllerClient(
  opts: SessionControllerClientOptions,
): SessionControllerClient {
  const client = createMeshClient(SessionControllerService, {
    baseUrl: opts.baseUrl,
    deadlineMs: opts.deadlineMs ?? 3_000,
    token: opts.token,
  });
  return {
    async reportConnectionEvent({ requestId, type, connection, connectionCount }) {
      await client.reportConnectionEvent(
        create(ReportConnectionEventRequestSchema, {
          requestId,
          serverId: connection.serverId,
          instanceId: connection.instanceId,
          type: {
            CONNECTED: ConnectionEventType.CONNECTED,
            DISCONNECTED: ConnectionEventType.DISCONNECTED,
            LOGIN_REFUSED: ConnectionEventType.LOGIN_REFUSED,
          }[type],
          peer: create(EndpointSchema, {
            host: connection.peer.address,
            port: connection.peer.port,
          }),
          eventTime: timestampFromDate(new Date()),
          connectionCount,
        }),
      );
    },
  };
}
