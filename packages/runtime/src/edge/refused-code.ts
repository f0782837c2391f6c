/**
 * Reads the code a client sees from a response connect wrote without entering the interceptors
 * (415, unsupported compression, a size limit in its envelope reader...), so the edge can log and
 * count it like any other call.
 */
import { Code } from "@connectrpc/connect";
import { codeFromHttpStatus, codeFromString } from "@connectrpc/connect/protocol-connect";

/** The code in a complete response: undefined for OK. */
export function refusedCode(
  status: number,
  header: Headers,
  trailer: Headers | undefined,
  body: Uint8Array,
): Code | undefined {
  const grpcStatus = trailer?.get("grpc-status") ?? header.get("grpc-status");
  if (grpcStatus !== null) return codeOf(Number(grpcStatus));
  const type = header.get("content-type") ?? "";
  if (status === 200 && type.startsWith("application/grpc-web")) {
    for (const { flags, data } of envelopes(body)) {
      if ((flags & 0x80) === 0) continue;
      const m = /^grpc-status:\s*(\d+)\s*$/im.exec(Buffer.from(data).toString("latin1"));
      if (m !== null) return codeOf(Number(m[1]));
    }
    return Code.Unknown;
  }
  if (status === 200 && type.startsWith("application/connect+")) {
    for (const { flags, data } of envelopes(body)) {
      if ((flags & 0x02) === 0) continue;
      const end = parseJson(data) as { error?: { code?: string } } | undefined;
      if (end?.error === undefined) return undefined;
      return codeFromString(end.error.code ?? "") ?? Code.Unknown;
    }
    return undefined;
  }
  if (status === 200) return undefined;
  const err = parseJson(body) as { code?: string } | undefined;
  return codeFromString(err?.code ?? "") ?? codeFromHttpStatus(status);
}

function codeOf(n: number): Code | undefined {
  if (n === 0) return undefined;
  return n in Code ? (n as Code) : Code.Unknown;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return undefined;
  }
}

function* envelopes(body: Uint8Array): Generator<{ flags: number; data: Uint8Array }> {
  let at = 0;
  while (at + 5 <= body.byteLength) {
    const view = new DataView(body.buffer, body.byteOffset + at, 5);
    const length = view.getUint32(1);
    yield { flags: view.getUint8(0), data: body.subarray(at + 5, at + 5 + length) };
    at += 5 + length;
  }
}
