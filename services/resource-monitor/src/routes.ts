import type { ConnectRouter } from "@connectrpc/connect";
import { ResourceMonitorService } from "@lucid-rdp/gen";
import type { ResourceMonitorHandler } from "./service/resource-monitor-service.js";

/** Registers the service's RPCs; reused by in-memory tests through createRouterTransport. */
export function routes(handler: ResourceMonitorHandler) {
  return (router: ConnectRouter) => router.service(ResourceMonitorService, handler);
}
