/** Small helpers for the node:net servers tests listen with. */
import type { Server } from "node:net";

/** The TCP port a listening server is bound to; throws when it has none (a pipe, or not listening). */
export function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no port");
  return address.port;
}

/** Closes a server and resolves once it is closed; resolves at once when it is not listening. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}
