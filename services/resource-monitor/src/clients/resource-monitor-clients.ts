/** The downstream services resource-monitor calls, each optional, and how main builds them. */
import type { ResourceMonitorConfig } from "../config.js";
import {
  createSessionControllerClient,
  type SessionControllerClient,
} from "./session-controller-client.js";
import {
  createXrdpIntegrationClient,
  type XrdpIntegrationClient,
} from "./xrdp-integration-client.js";

/** What createApp calls downstream; tests pass fakes. */
export interface ResourceMonitorClients {
  /** This node's xrdp-integration: without it, no server is sampled. */
  readonly xrdp?: XrdpIntegrationClient;
  /** session-controller: without it, GetServerUsage by session id fails FAILED_PRECONDITION. */
  readonly sessions?: SessionControllerClient;
}

/** The real clients of the URLs `config` names (none for a URL that is not set). */
export function createResourceMonitorClients(
  config: Pick<ResourceMonitorConfig, "xrdpIntegrationUrl" | "sessionControllerUrl" | "meshToken">,
): ResourceMonitorClients {
  const token = config.meshToken;
  return {
    xrdp: config.xrdpIntegrationUrl
      ? createXrdpIntegrationClient({ baseUrl: config.xrdpIntegrationUrl, token })
      : undefined,
    sessions: config.sessionControllerUrl
      ? createSessionControllerClient({ baseUrl: config.sessionControllerUrl, token })
      : undefined,
  };
}
