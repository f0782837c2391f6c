/** The real clients of session-controller, from its config: what main.ts hands createApp. */
import { ServerManagerService, XrdpIntegrationService } from "@lucid-rdp/gen";
import { createMeshClient, createUsageLookup } from "@lucid-rdp/runtime";
import type { SessionControllerConfig } from "../config.js";
import type { SessionControllerClients } from "./clients.js";
import { createServerManagerClient } from "./server-manager-adapter.js";
import type { XrdpNodeClient } from "./xrdp-node.js";
import { createXrdpNodeClient } from "./xrdp-node-adapter.js";

/** Mesh clients for server-manager (if configured), resource-monitor usage and the nodes. */
export function createClients(config: SessionControllerConfig): SessionControllerClients {
  const token = config.meshToken;
  return {
    serverManager: config.serverManagerUrl
      ? createServerManagerClient(
          createMeshClient(ServerManagerService, {
            baseUrl: config.serverManagerUrl,
            deadlineMs: 90_000,
            token,
          }),
        )
      : undefined,
    usage: createUsageLookup(config.resourceMonitorUrl, token),
    nodeClient: meshNodeClients(token),
  };
}

/** XrdpNodeClients over gRPC mesh clients (3 s deadline, the mesh `token`), by base URL. */
export function meshNodeClients(token: string | undefined): (baseUrl: string) => XrdpNodeClient {
  return (baseUrl) =>
    createXrdpNodeClient(
      createMeshClient(XrdpIntegrationService, { baseUrl, deadlineMs: 3_000, token }),
    );
}
