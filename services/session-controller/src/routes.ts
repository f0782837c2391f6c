import type { ConnectRouter } from "@connectrpc/connect";
import { SessionControllerService } from "@lucid-rdp/gen";
import type { SessionControllerHandler } from "./service/session-controller-service.js";

/** Registers the service's RPCs; reused by in-memory tests through createRouterTransport. */
export function routes(handler: SessionControllerHandler) {
  return (router: ConnectRouter) => router.service(SessionControllerService, handler);
}
