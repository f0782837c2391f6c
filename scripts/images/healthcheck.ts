/**
 * The images' HEALTHCHECK: one `grpc.health.v1.Health/Check` (service "", the whole server) to
 * this container's own listener. Exit 0 when it answers SERVING, 1 otherwise (Docker's healthy and
 * unhealthy), with one line saying what it got. Bundled to `/app/healthcheck.mjs` and run in exec
 * form (`HEALTHCHECK CMD ["node", "/app/healthcheck.mjs"]`): the distroless images have no shell.
 *
 * Reads the service's own settings from the environment it shares with the service: `PORT`, `HOST`
 * (a wildcard means loopback) and `TLS_CERT` (set: the listener speaks TLS).
 *
 * Why gRPC is framed by hand over node:http2 instead of loading @grpc/grpc-js: Docker starts a new
 * Node process for every probe, every few seconds, for the life of the container. The request is
 * an empty message and the answer one varint field, so a few lines of framing keep each probe to
 * Node's own start-up and the file to a few KiB, with no dependency to bundle.
 */
import { connect } from "node:http2";

const statusNames = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

function finish(code: 0 | 1, line: string): never {
  (code === 0 ? process.stdout : process.stderr).write(`${line}\n`);
  process.exit(code);
}

function target(): string {
  const port = Number(process.env.PORT ?? "");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    finish(1, `healthcheck: PORT must be the service's port (1-65535), got "${process.env.PORT}"`);
  }
  const host = process.env.HOST ?? "";
  const address = host === "" || host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host;
  const bracketed = address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
  return `${process.env.TLS_CERT ? "https" : "http"}://${bracketed}:${port}`;
}

/** Reads field 1 (status, a varint) of a HealthCheckResponse; absent means 0, UNKNOWN. */
function statusOf(message: Buffer): number {
  let i = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; i < message.length && shift < 35; shift += 7) {
      const b = message[i++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error("truncated varint");
  };
  let status = 0;
  while (i < message.length) {
    const tag = varint();
    const wire = tag & 7;
    if (tag >>> 3 === 1 && wire === 0) status = varint();
    else if (wire === 0) varint();
    else if (wire === 2) i += varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return status;
}

const timeoutMs = 2_500;
const url = target();
// The probe runs inside the container against the service's own socket; the certificate names the
// service's public host, not 127.0.0.1, so it is not verified here (liveness, not identity).
const session = connect(url, { rejectUnauthorized: false });
const timer = setTimeout(
  () => finish(1, `healthcheck: ${url} did not answer in ${timeoutMs} ms`),
  timeoutMs,
);
session.on("error", (e) => finish(1, `healthcheck: ${url}: ${e.message}`));
const call = session.request({
  ":method": "POST",
  ":path": "/grpc.health.v1.Health/Check",
  "content-type": "application/grpc",
  te: "trailers",
  "grpc-timeout": `${timeoutMs}m`,
});
// An empty HealthCheckRequest: no compression flag, zero length.
call.end(Buffer.alloc(5));
let grpcStatus: string | undefined;
const chunks: Buffer[] = [];
call.on("response", (headers) => {
  if (headers[":status"] !== 200)
    finish(1, `healthcheck: ${url} answered HTTP ${headers[":status"]}`);
  const s = headers["grpc-status"];
  if (typeof s === "string") grpcStatus = s;
});
call.on("trailers", (trailers) => {
  const s = trailers["grpc-status"];
  if (typeof s === "string") grpcStatus = s;
});
call.on("data", (d: Buffer) => chunks.push(d));
call.on("error", (e) => finish(1, `healthcheck: ${url}: ${e.message}`));
call.on("end", () => {
  clearTimeout(timer);
  session.close();
  if (grpcStatus !== "0") finish(1, `healthcheck: Check failed with grpc-status ${grpcStatus}`);
  const body = Buffer.concat(chunks);
  if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
    finish(1, "healthcheck: malformed gRPC response");
  }
  let status: number;
  try {
    status = statusOf(body.subarray(5));
  } catch (e) {
    finish(1, `healthcheck: malformed HealthCheckResponse: ${(e as Error).message}`);
  }
  const name = statusNames[status] ?? String(status);
  finish(status === 1 ? 0 : 1, `healthcheck: ${name}`);
});
