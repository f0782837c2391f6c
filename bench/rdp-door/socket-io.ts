/**
 * Small socket helpers of the rdp-door benchmark's clients and stand-ins: waiting for one event
 * while another means failure (without leaving a listener or a promise behind that could reject
 * later), and writing a number of bytes with backpressure.
 */
import type { EventEmitter } from "node:events";
import type { Socket } from "node:net";

/** One buffer, written again and again: the benchmark measures the path, not the allocator. */
const chunk = Buffer.alloc(1024 * 1024, 0x5a);

/**
 * Resolves on the first `event` of `emitter`; rejects with `what` on the first of `failOn` (an
 * "error" event rejects with that error). Removes every listener it added either way.
 */
export function nextEvent(
  emitter: EventEmitter,
  event: string,
  failOn: readonly string[],
  what: string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      emitter.off(event, onEvent);
      for (const f of failOn) emitter.off(f, onFail);
    };
    const onEvent = () => {
      cleanup();
      resolve();
    };
    const onFail = (e?: unknown) => {
      cleanup();
      reject(e instanceof Error ? new Error(`${what}: ${e.message}`) : new Error(what));
    };
    emitter.once(event, onEvent);
    for (const f of failOn) emitter.once(f, onFail);
  });
}

/** Writes `bytes` bytes, waiting for "drain" whenever the socket's buffer is full. */
export async function writeBytes(socket: Socket, bytes: number): Promise<void> {
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, chunk.length);
    left -= n;
    if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
      await nextEvent(
        socket,
        "drain",
        ["close", "error"],
        `closed with ${left + n} bytes to write`,
      );
    }
  }
}
