/** Reports connection changes to session-controller (ReportConnectionEvent), over the mesh client. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConnectionEventType,
  EndpointSchema,
  ReportConnectionEventRequestSchema,
  SessionControllerService,
} from "@lucid-rdp/gen";
import { createMeshClient } from "@lucid-rdp/runtime";
import type { ConnectionReporter } from "./connection-watcher.js";

export function sessionControllerReporter(baseUrl: string, token?: string): ConnectionReporter {
  const client = createMeshClient(SessionControllerService, {
    baseUrl,
    deadlineMs: 3_000,
    token: token,
  });
  return async ({ requestId, type, connection, connectionCount }) => {
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
        peer: create(EndpointSchema, { host: connection.peer.address, port: connection.peer.port }),
        eventTime: timestampFromDate(new Date()),
        connectionCount,
      }),
    );
  };
}
