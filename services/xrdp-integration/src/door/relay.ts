/**
 * Joins a client socket and its upstream once both are connected: each side's chunks are written
 * to the other as they are (the same Buffers, no copies of ours), a FIN is passed through while
 * the other direction keeps flowing (both sockets allow half-open), and an error (a reset) on one
 * side is passed on as a reset of the other.
 *
 * Backpressure is ours rather than `pipe`'s: `pipe` pauses the source as soon as the destination
 * holds more than its high-water mark (16 KiB), which with 64 KiB reads is after every chunk, and
 * each pause and resume is a stop and a restart of reading. Pausing only once 1 MiB waits for a
 * slow side keeps the memory per relay bounded (1 MiB each way) with 16 times fewer of them. On this
shared 2-core machine bench/rdp-door could not tell the two apart (runs varied from 0.3x to 0.9x).
 */
import type { Socket } from "node:net";

/**
 * Relays `client` <-> `upstream` until both are closed, then calls `onClosed` once. Both must
 * have `allowHalfOpen` set before their first `end` can be read.
 */
export function relay(client: Socket, upstream: Socket, onClosed: () => void): void {
  forward(client, upstream);
  forward(upstream, client);
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

/** The most bytes one direction lets wait for a slow reader before it stops reading. */
export const maxQueuedBytes = 1 << 20;

/** Writes what `from` reads to `to`, pausing `from` while `to` holds {@link maxQueuedBytes}. */
function forward(from: Socket, to: Socket): void {
  from.on("data", (chunk: Buffer) => {
    if (to.destroyed) return;
    to.write(chunk);
    // Over the mark, this write returned false: `drain` comes once `to` has flushed.
    if (to.writableLength >= maxQueuedBytes) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  });
  // A FIN: passed on, and the other direction goes on.
  from.once("end", () => {
    if (!to.destroyed) to.end();
  });
  // The door paused the socket while it read the first packet: a listener alone would not resume it.
  from.resume();
}
