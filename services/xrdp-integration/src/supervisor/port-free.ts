/** Whether a TCP port can be had on this host. */
import { createServer } from "node:net";

/** True when nothing listens on address:port (we can bind it ourselves, then let go). */
export function portIsFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
