/**
 * Misbehaving clients for the connection-limit tests: raw sockets that stay silent, idle, or send a
 * request a byte at a time, over plaintext or TLS, and a way to see the server's open descriptors.
 */
import { readdirSync, readFileSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { http2Preface } from "../../src/listener.js";

/** How one client connects: plaintext, or TLS offering one ALPN protocol. */
export type Dial =
  | { readonly tls: false; readonly port: number }
  | { readonly tls: true; readonly port: number; readonly ca: Buffer; readonly alpn?: string };

/** A client connection and whether the server has closed it. */
export interface Probe {
  readonly kind: string;
  /** True once the server closed the connection (the client never closes it first). */
  closed: boolean;
  /** Stops whatever the client still sends and closes its end (cleanup). */
  stop(): void;
}

const echoPath = "/lucid.rdp.testing.v1.EchoService/Echo";

function dial(d: Dial): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = d.tls
      ? tlsConnect(
          {
            host: "127.0.0.1",
            port: d.port,
            ca: d.ca,
            servername: "localhost",
            ALPNProtocols: [d.alpn ?? "http/1.1"],
          },
          () => resolve(s),
        )
      : netConnect({ host: "127.0.0.1", port: d.port }, () => resolve(s));
    s.once("error", reject);
  });
}

function probeOf(kind: string, socket: Socket, trickle?: () => string | undefined): Probe {
  const probe: Probe & { timer?: NodeJS.Timeout } = {
    kind,
    closed: false,
    stop() {
      clearInterval(probe.timer);
      socket.destroy();
    },
  };
  socket.on("error", () => {});
  socket.on("data", () => {}); // reads what the server sends (SETTINGS, a 408), never answers
  socket.once("close", () => {
    probe.closed = true;
    clearInterval(probe.timer);
  });
  if (trickle !== undefined) {
    probe.timer = setInterval(() => {
      const next = trickle();
      if (next !== undefined && !socket.destroyed) socket.write(next);
    }, 200);
  }
  return probe;
}

/** Opens the connection and sends nothing (over TLS: not even a handshake). */
export async function silent(port: number): Promise<Probe> {
  return probeOf("silent", await dial({ tls: false, port }));
}

/** Opens the connection (over TLS: completes the handshake, ALPN http/1.1) and sends nothing. */
export async function connectedSilent(d: Dial): Promise<Probe> {
  return probeOf("connected silent", await dial(d));
}

/** An idle HTTP/2 connection, and the types of the frames the server sent on it. */
export interface Http2Probe extends Probe {
  readonly frameTypes: number[];
}

/** The HTTP/2 GOAWAY frame type (RFC 9113, section 6.8). */
export const goawayFrame = 7;

/** An HTTP/2 connection that sends the preface and an empty SETTINGS frame, then nothing. */
export async function idleHttp2(d: Dial): Promise<Http2Probe> {
  const s = await dial(d.tls ? { ...d, alpn: "h2" } : d);
  const frameTypes: number[] = [];
  let pending = Buffer.alloc(0);
  s.on("data", (chunk: Buffer) => {
    // Each frame: a 9-byte header (24-bit length, type, flags, stream id), then its payload.
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
      frameTypes.push(pending[3] as number);
      pending = pending.subarray(9 + pending.readUIntBE(0, 3));
    }
  });
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  s.write(Buffer.concat([http2Preface, settings]));
  return Object.assign(probeOf("idle h2", s), { frameTypes });
}

/** An HTTP/1.1 request whose headers arrive one byte every 200 ms, without end. */
export async function slowHeaders(d: Dial): Promise<Probe> {
  const s = await dial(d);
  s.write("GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
  return probeOf("h1 slow headers", s, () => "a");
}

/** An HTTP/1.1 unary call whose body arrives one byte every 200 ms and would take 100 s. */
export async function slowBody(d: Dial): Promise<Probe> {
  const s = await dial(d);
  s.write(
    `POST ${echoPath} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
      "Content-Length: 500\r\n\r\n{",
  );
  return probeOf("h1 slow body", s, () => " ");
}

/** An HTTP/1.1 connection that made one request, got its answer, and then stays idle. */
export async function keepAliveIdle(d: Dial): Promise<Probe> {
  const s = await dial(d);
  const answered = new Promise<void>((resolve) => s.once("data", () => resolve()));
  s.write("GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const probe = probeOf("h1 keep-alive idle", s);
  await answered;
  return probe;
}

/** An HTTP/2 unary call whose body arrives one byte every 200 ms and never ends. */
export async function slowHttp2Body(d: Dial): Promise<Probe> {
  const authority = `${d.tls ? "https" : "http"}://localhost:${d.port}`;
  const session = http2Connect(authority, {
    ...(d.tls ? { ca: d.ca, servername: "localhost" } : {}),
    host: "127.0.0.1",
  });
  session.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  const stream = session.request(
    { ":method": "POST", ":path": echoPath, "content-type": "application/json" },
    { endStream: false },
  );
  stream.on("error", () => {});
  stream.on("data", () => {});
  stream.write("{");
  const probe: Probe & { timer?: NodeJS.Timeout } = {
    kind: "h2 slow body",
    closed: false,
    stop() {
      clearInterval(probe.timer);
      session.destroy();
    },
  };
  probe.timer = setInterval(() => {
    if (!stream.destroyed && !stream.closed) stream.write(" ");
  }, 200);
  session.once("close", () => {
    probe.closed = true;
    clearInterval(probe.timer);
  });
  return probe;
}

/**
 * The pid of the process that serves: tsx runs the service's main in a child of its own, so this
 * is the deepest descendant of `pid` (or `pid` itself).
 */
export function servingPid(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter((c) => c !== "")
    .map(Number);
  const child = children.at(-1);
  return child === undefined ? pid : servingPid(child);
}

/** The number of file descriptors `pid` has open. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
