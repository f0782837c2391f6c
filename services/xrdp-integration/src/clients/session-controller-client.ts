/** session-controller as this service calls it: connection reports (ReportConnectionEvent). */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConnectionEventType,
  EndpointSchema,
  ReportConnectionEventRequestSchema,
  SessionControllerService,
} from "@lucid-rdp/gen";
import { createMeshClient, type MeshClientOptions } from "@lucid-rdp/runtime";
import type { ConnectionChange } from "../domain/observed-connection.js";

/** What this service asks of session-controller, in domain terms. */
export interface SessionControllerClient {
  /** Reports a change of an instance's connections; retried reports share the request id. */
  reportConnectionEvent(change: ConnectionChange): Promise<void>;
}

/** session-controller over the generated Connect client (the mesh client: deadline, retries). */
export function createSessionControllerClient(opts: MeshClientOptions): SessionControllerClient {
  const client = createMeshClient(SessionControllerService, {
    ...opts,
    deadlineMs: opts.deadlineMs ?? 3_000,
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
