/**
 * Loopback servers standing in for xrdp's data path in the rdp-door benchmark's throughput runs.
 * Each reads the client's first packet (one TPKT: the X.224 Connection Request, stripped of its
 * routing token when it came through the door), answers it with the Connection Confirm xrdp
 * 0.9.21 sends with security_layer=tls, then streams: a "source" writes `bytes` bytes and ends, a
 * "sink" reads to the client's FIN and answers with how many bytes it read (u64 big-endian), then
 * ends; a "confirm" stand-in only answers the Confirm and ends when the client does (the door's
 * own connect cost, without xrdp's fork per connection). Bulk data in both directions is what a
 * desktop session is once connected (bitmaps one way, input and clipboard the other), and it is
 * what the relay's cost shows in.
 */
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { parseConnectionRequest } from "@lucid-rdp/xrdp-integration";
import { nextEvent, writeBytes } from "./socket-io.js";

/** xrdp 0.9.21's Confirm with security_layer=tls: RDP_NEG_RSP selecting TLS. */
export const xrdpConfirm = Buffer.from("030000130ed000001234000201080001000000", "hex");

export interface StandIn {
  readonly port: number;
  close(): Promise<void>;
}

/** Who hears of what went wrong: each call is one problem the benchmark must fail on. */
export interface StandInReports {
  /** A connection broke the script: a bad first packet, a reset, an early end. */
  onError(what: string): void;
  /** A Connection Request still carried a routing token when it arrived. */
  onToken(): void;
}

/** Starts a stand-in on 127.0.0.1 (an ephemeral port). */
export async function startStandIn(
  kind: "source" | "sink" | "confirm",
  bytes: number,
  reports: StandInReports,
): Promise<StandIn> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", (e) => reports.onError(`${kind}: ${e.message}`));
    void serve(socket).then(
      (sawToken) => {
        if (sawToken) reports.onToken();
      },
      (e: unknown) => {
        reports.onError(`${kind}: ${e instanceof Error ? e.message : String(e)}`);
        socket.destroy();
      },
    );
  });

  async function serve(socket: Socket): Promise<boolean> {
    const request = await readConnectionRequest(socket);
    socket.write(xrdpConfirm);
    if (kind === "source") {
      await writeBytes(socket, bytes);
      socket.end();
    } else if (kind === "confirm") {
      socket.resume();
      await nextEvent(socket, "end", ["close", "error"], "the client left without its FIN");
      socket.end();
    } else {
      let read = 0;
      socket.on("data", (c: Buffer) => {
        read += c.length;
      });
      socket.resume();
      await nextEvent(socket, "end", ["close", "error"], "the client left without its FIN");
      const count = Buffer.alloc(8);
      count.writeBigUInt64BE(BigInt(read));
      socket.end(count);
    }
    return request.routingToken !== undefined;
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads one complete Connection Request off `socket` and leaves the socket paused after it. */
async function readConnectionRequest(
  socket: Socket,
): Promise<{ routingToken: string | undefined }> {
  let got: Buffer = Buffer.alloc(0);
  for (;;) {
    const c = socket.read() as Buffer | null;
    if (c === null) {
      await nextEvent(
        socket,
        "readable",
        ["end", "close", "error"],
        "the client left before its Connection Request",
      );
      continue;
    }
    got = Buffer.concat([got, c]);
    const r = parseConnectionRequest(got);
    if (r.kind === "invalid") throw new Error(`bad Connection Request: ${r.reason}`);
    if (r.kind === "parsed") {
      if (r.request.rest.length > 0) socket.unshift(Buffer.from(r.request.rest));
      return { routingToken: r.request.routingToken };
    }
  }
}
