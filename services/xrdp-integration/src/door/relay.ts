/**
 * Joins a client socket and its upstream once both are connected: `pipe` both ways (the same
 * Buffers passed on, the source paused while the destination's buffer is full: backpressure both
 * ways, no copies of ours), a FIN passed through while the other direction keeps flowing (both
 * sockets allow half-open), and an error (a reset) on one side passed on as a reset of the other.
 */
import type { Socket } from "node:net";

/**
 * Relays `client` <-> `upstream` until both are closed, then calls `onClosed` once. Both must
 * have `allowHalfOpen` set before their first `end` can be read.
 */
export function relay(client: Socket, upstream: Socket, onClosed: () => void): void {
  client.pipe(upstream);
  upstream.pipe(client);
  let open = 2;
  const watch = (self: Socket, other: Socket) => {
    // A reset or any other socket error: the peer of the other side sees a reset too, not a FIN
    // that would read as a clean end of the stream.
    self.on("error", () => {
      if (!other.destroyed) other.resetAndDestroy();
    });
    self.once("close", () => {
      // Closed without both FINs (destroyed here, e.g. by RdpDoor.close()): the other goes too.
      if (!other.destroyed && !(self.readableEnded && self.writableFinished)) other.destroy();
      if (--open === 0) onClosed();
    });
  };
  watch(client, upstream);
  watch(upstream, client);
}
