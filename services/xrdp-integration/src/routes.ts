import type { ConnectRouter } from "@connectrpc/connect";
import { XrdpIntegrationService } from "@lucid-rdp/gen";
import type { XrdpIntegrationHandler } from "./service/xrdp-integration-service.js";

/** Registers the service's RPCs; reused by in-memory tests through createRouterTransport. */
export function routes(handler: XrdpIntegrationHandler) {
  return (router: ConnectRouter) => router.service(XrdpIntegrationService, handler);
}
