import type { ConnectRouter } from "@connectrpc/connect";
import { ServerManagerService } from "@lucid-rdp/gen";
import type { ServerManagerHandler } from "./service/server-manager-service.js";

/** Registers the service's RPCs; reused by in-memory tests through createRouterTransport. */
export function routes(handler: ServerManagerHandler) {
  return (router: ConnectRouter) => router.service(ServerManagerService, handler);
}
