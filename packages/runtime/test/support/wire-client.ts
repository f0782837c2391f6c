/**
 * A raw HTTP/2 client for edge tests: it sends exactly the bytes a test chooses (malformed bodies,
 * bombs, unusual headers), in any of the protocols the runtime serves, and reads the code the
 * response carries the way each protocol's clients do.
 */
import { readFileSync } from "node:fs";
import { connect, type IncomingHttpHeaders } from "node:http2";
import { Code } from "@connectrpc/connect";
import { codeFromHttpStatus, codeFromString } from "@connectrpc/connect/protocol-connect";

/** The RPC protocols a request can be framed in. */
export type WireProtocol = "connect" | "connect-stream" | "grpc" | "grpc-web";

/** A complete HTTP/2 response. */
export interface WireResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** What a response said, read as the protocol's clients read it. */
export interface WireResult extends WireResponse {
  /** undefined for OK. */
  readonly code: Code | undefined;
  readonly message: string;
  /** The error details' JSON (Connect) when present. */
  readonly details: unknown[];
  /** The messages of the response (envelope payloads, or the unary body on success). */
  readonly messages: Buffer[];
}

/** Frames `payload` as one envelope. */
export function envelope(payload: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(payload.byteLength, 1);
  return Buffer.concat([head, payload]);
}

/** Splits a body into envelopes. */
export function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const length = body.readUInt32BE(at + 1);
    out.push({ flags: body.readUInt8(at), data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/**
 * Sends one HTTP/2 request. With `holdBody` the request stream is left open after `body` (a client
 * that never finishes sending); the response is still awaited.
 */
export function h2Request(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array | readonly Uint8Array[],
  opts: { method?: string; holdBody?: boolean } = {},
): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const session = connect(url);
    session.on("error", reject);
    const req = session.request({ ":method": opts.method ?? "POST", ":path": path, ...headers });
    let status = 0;
    let resHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      status = Number(h[":status"]);
      resHeaders = h;
    });
    req.on("trailers", (t) => {
      trailers = t;
    });
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      session.close();
      resolve({ status, headers: resHeaders, trailers, body: Buffer.concat(chunks) });
    });
    req.on("error", (e) => {
      session.destroy();
      reject(e);
    });
    for (const part of Array.isArray(body) ? body : [body]) req.write(part);
    if (!opts.holdBody) req.end();
  });
}

const contentTypes: Record<WireProtocol, { proto: string; json: string }> = {
  connect: { proto: "application/proto", json: "application/json" },
  "connect-stream": { proto: "application/connect+proto", json: "application/connect+json" },
  grpc: { proto: "application/grpc", json: "application/grpc+json" },
  "grpc-web": { proto: "application/grpc-web+proto", json: "application/grpc-web+json" },
};

/** Options of one RPC sent with `callWire`. */
export interface WireCallOptions {
  /** JSON messages instead of binary. @default false */
  readonly json?: boolean;
  /** The messages' compression: each message is compressed already. @default identity */
  readonly encoding?: "gzip" | "br";
  readonly headers?: Record<string, string>;
  /** Leave the request stream open after the messages. @default false */
  readonly holdBody?: boolean;
}

/** Sends already-encoded (and maybe compressed) messages as one RPC in `protocol`. */
export async function callWire(
  url: string,
  protocol: WireProtocol,
  path: string,
  messages: readonly Uint8Array[],
  opts: WireCallOptions = {},
): Promise<WireResult> {
  const headers: Record<string, string> = {
    "content-type": contentTypes[protocol][opts.json ? "json" : "proto"],
    ...opts.headers,
  };
  const flags = opts.encoding === undefined ? 0 : 1;
  if (protocol === "connect") {
    headers["connect-protocol-version"] = "1";
    if (opts.encoding !== undefined) headers["content-encoding"] = opts.encoding;
  } else if (protocol === "connect-stream") {
    headers["connect-protocol-version"] = "1";
    if (opts.encoding !== undefined) headers["connect-content-encoding"] = opts.encoding;
  } else {
    headers.te = "trailers";
    if (protocol === "grpc-web") headers["x-grpc-web"] = "1";
    if (opts.encoding !== undefined) headers["grpc-encoding"] = opts.encoding;
  }
  const body = protocol === "connect" ? messages : messages.map((m) => envelope(m, flags));
  const res = await h2Request(url, path, headers, body, { holdBody: opts.holdBody });
  return { ...res, ...readResult(protocol, res) };
}

/** Reads the code, message and response messages of a response in `protocol`. */
export function readResult(
  protocol: WireProtocol,
  res: WireResponse,
): Pick<WireResult, "code" | "message" | "details" | "messages"> {
  if (protocol === "connect") {
    if (res.status === 200)
      return { code: undefined, message: "", details: [], messages: [res.body] };
    const err = parseJson(res.body) as { code?: string; message?: string; details?: unknown[] };
    return {
      code: codeFromString(err?.code ?? "") ?? codeFromHttpStatus(res.status),
      message: err?.message ?? "",
      details: err?.details ?? [],
      messages: [],
    };
  }
  if (res.status !== 200) {
    return { code: codeFromHttpStatus(res.status), message: "", details: [], messages: [] };
  }
  const frames = envelopes(res.body);
  if (protocol === "connect-stream") {
    const end = frames.find((f) => (f.flags & 2) === 2);
    const parsed = parseJson(end?.data ?? Buffer.alloc(0)) as {
      error?: { code?: string; message?: string; details?: unknown[] };
    };
    return {
      code:
        parsed?.error === undefined
          ? undefined
          : (codeFromString(parsed.error.code ?? "") ?? Code.Unknown),
      message: parsed?.error?.message ?? "",
      details: parsed?.error?.details ?? [],
      messages: frames.filter((f) => (f.flags & 2) === 0).map((f) => f.data),
    };
  }
  let status: string | undefined;
  let message = "";
  if (protocol === "grpc") {
    status = String(res.trailers["grpc-status"] ?? res.headers["grpc-status"] ?? "");
    message = decodeURIComponent(
      String(res.trailers["grpc-message"] ?? res.headers["grpc-message"] ?? ""),
    );
  } else {
    const trailer = frames.find((f) => (f.flags & 0x80) === 0x80);
    const text = trailer?.data.toString("latin1") ?? "";
    status = /^grpc-status:\s*(\d+)/im.exec(text)?.[1] ?? String(res.headers["grpc-status"] ?? "");
    message = decodeURIComponent(
      /^grpc-message:\s*(.*?)\s*$/im.exec(text)?.[1] ?? String(res.headers["grpc-message"] ?? ""),
    );
  }
  const n = Number(status);
  return {
    code: status === "" ? Code.Unknown : n === 0 ? undefined : (n as Code),
    message,
    details: [],
    messages: frames.filter((f) => (f.flags & 0x80) === 0).map((f) => f.data),
  };
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** The process actually serving: the deepest descendant of `pid` (tsx runs node as a child). */
export function servingPid(pid: number): number {
  let current = pid;
  for (;;) {
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${current}/task/${current}/children`, "utf8")
        .trim()
        .split(/\s+/);
    } catch {
      return current;
    }
    const next = Number(children[0]);
    if (children[0] === "" || !Number.isFinite(next)) return current;
    current = next;
  }
}

/** The peak and current resident memory of a process (bytes), from /proc/<pid>/status. */
export function memoryOf(pid: number): { hwm: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { hwm: kb("VmHWM") * 1024, rss: kb("VmRSS") * 1024 };
}
