/**
 * The client side of the rdp-door benchmark's throughput runs: connects (to the door, with a
 * routing token, or straight to the stand-in, without), sends the X.224 Connection Request and
 * waits for the Confirm, as an RDP client does, then moves `bytes` bytes one way and checks that
 * every byte arrived. The clock runs from the Confirm to the last byte (download) or to the
 * stand-in's count of what it read (upload), so the handshake is not part of the throughput.
 */
import { connect, type Socket } from "node:net";
import { buildConnectionRequest, parseConnectionConfirm } from "@lucid-rdp/xrdp-integration";
import { nextEvent, writeBytes } from "./socket-io.js";

const confirmLength = 19;

/** Connects, sends the Connection Request (with `token` when given) and reads the Confirm. */
async function connectRdp(port: number, token: string | undefined): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port, noDelay: true, allowHalfOpen: true });
  await nextEvent(socket, "connect", ["error", "close"], `connect to 127.0.0.1:${port}`);
  socket.write(buildConnectionRequest(undefined, token));
  let got: Buffer = Buffer.alloc(0);
  while (got.length < confirmLength) {
    const c = socket.read() as Buffer | null;
    if (c === null) {
      await nextEvent(socket, "readable", ["end", "close", "error"], "no Connection Confirm");
      continue;
    }
    got = Buffer.concat([got, c]);
  }
  const confirm = parseConnectionConfirm(got.subarray(0, confirmLength));
  if (!confirm.ok) {
    socket.destroy();
    throw new Error(`the Confirm through 127.0.0.1:${port} says: ${confirm.reason}`);
  }
  if (got.length > confirmLength) socket.unshift(got.subarray(confirmLength));
  return socket;
}

/**
 * Milliseconds from the TCP connect's start to the Confirm of a "confirm" stand-in; then
 * half-closes and waits for the stand-in's end, so that no connection outlives its sample.
 */
export async function handshake(port: number, token: string | undefined): Promise<number> {
  const t0 = performance.now();
  const socket = await connectRdp(port, token);
  const ms = performance.now() - t0;
  try {
    const ended = nextEvent(socket, "end", ["close", "error"], "the stand-in did not end");
    socket.resume();
    socket.end();
    await ended;
    return ms;
  } finally {
    socket.destroy();
  }
}

/** Reads `bytes` bytes from a source stand-in; resolves the seconds from the Confirm to its end. */
export async function download(
  port: number,
  token: string | undefined,
  bytes: number,
): Promise<number> {
  const socket = await connectRdp(port, token);
  try {
    const t0 = performance.now();
    let read = 0;
    socket.on("data", (c: Buffer) => {
      read += c.length;
    });
    const ended = nextEvent(
      socket,
      "end",
      ["close", "error"],
      `download ended after ${read} bytes`,
    );
    socket.resume();
    await ended;
    const seconds = (performance.now() - t0) / 1000;
    if (read !== bytes) throw new Error(`downloaded ${read} bytes, expected ${bytes}`);
    return seconds;
  } finally {
    socket.destroy();
  }
}

/**
 * Writes `bytes` bytes to a sink stand-in, half-closes, and waits for its count of what it read;
 * resolves the seconds from the Confirm to that count.
 */
export async function upload(
  port: number,
  token: string | undefined,
  bytes: number,
): Promise<number> {
  const socket = await connectRdp(port, token);
  try {
    const t0 = performance.now();
    let answer: Buffer = Buffer.alloc(0);
    socket.on("data", (c: Buffer) => {
      answer = Buffer.concat([answer, c]);
    });
    const ended = nextEvent(socket, "end", ["close", "error"], "no count from the sink");
    // Awaited below; a failure while writing surfaces there, not as an unhandled rejection.
    ended.catch(() => {});
    await writeBytes(socket, bytes);
    socket.end();
    await ended;
    const seconds = (performance.now() - t0) / 1000;
    const count = answer.length === 8 ? Number(answer.readBigUInt64BE()) : -1;
    if (count !== bytes) throw new Error(`the sink read ${count} bytes, expected ${bytes}`);
    return seconds;
  } finally {
    socket.destroy();
  }
}
