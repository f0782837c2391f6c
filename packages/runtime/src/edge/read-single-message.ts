/**
 * Reads the one request message of a unary call before connect sees it, with the size limits
 * applied before and while inflating. connect reads, inflates and parses a unary body before any
 * interceptor runs, and turns a malformed message into INTERNAL; reading it here lets the edge
 * decide auth first and answer every client mistake with its proper code.
 */
import { promisify } from "node:util";
import { brotliDecompress, gunzip } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import type { WireFormat } from "./wire-format.js";

// Not connect-node's compressionGzip/compressionBrotli.decompress: those answer INTERNAL for
// input zlib cannot finish (a truncated gzip stream is Z_BUF_ERROR), which is the client's
// mistake; here every failure but the size limit is INVALID_ARGUMENT.
const inflaters: Record<
  string,
  (b: Uint8Array, o: { maxOutputLength: number }) => Promise<Buffer>
> = {
  gzip: promisify(gunzip),
  br: promisify(brotliDecompress),
};

/** The result of reading a unary request body. */
export type SingleMessage =
  /** The raw body as received, and the one message in it, uncompressed. */
  | { readonly kind: "message"; readonly raw: Uint8Array; readonly message: Uint8Array }
  /** Something connect refuses by itself (unknown compression, bad framing): pass `raw` on. */
  | { readonly kind: "unchecked"; readonly raw: Uint8Array };

/** True when the edge can inflate this encoding itself. */
export function canInflate(encoding: string): boolean {
  return encoding === "identity" || encoding in inflaters;
}

/** Reads a whole request body, refusing more than `limit` bytes (RESOURCE_EXHAUSTED). */
export async function readLimited(
  body: AsyncIterable<Uint8Array>,
  limit: number,
  contentLength: string | null,
): Promise<Uint8Array> {
  if (contentLength !== null && Number(contentLength) > limit) throw tooLarge(limit);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Inflates `bytes` with `encoding`, refusing more than `limit` bytes of output. */
export async function inflate(bytes: Uint8Array, encoding: string, limit: number) {
  const inflater = inflaters[encoding];
  if (inflater === undefined || bytes.byteLength === 0) return bytes;
  try {
    // zlib stops inflating as soon as the output passes maxOutputLength, so a bomb costs at most
    // `limit` bytes of memory.
    return new Uint8Array(await inflater(bytes, { maxOutputLength: limit }));
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new ConnectError(
        `the request message is larger than ${limit} bytes once decompressed`,
        Code.ResourceExhausted,
        undefined,
        undefined,
        e,
      );
    }
    throw new ConnectError(
      `the request message could not be decompressed as ${encoding}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
}

/** Reads the one message of a unary request from its body. */
export async function readSingleMessage(
  body: AsyncIterable<Uint8Array>,
  format: WireFormat,
  contentLength: string | null,
  limit: number,
): Promise<SingleMessage> {
  const raw = await readLimited(body, format.enveloped ? limit + 5 : limit, contentLength);
  if (!canInflate(format.encoding)) return { kind: "unchecked", raw };
  if (!format.enveloped) {
    return { kind: "message", raw, message: await inflate(raw, format.encoding, limit) };
  }
  if (raw.byteLength < 5) return { kind: "unchecked", raw };
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const flags = view.getUint8(0);
  const length = view.getUint32(1);
  if (length + 5 !== raw.byteLength || (flags & ~1) !== 0) return { kind: "unchecked", raw };
  if (length > limit) throw tooLarge(limit);
  const payload = raw.subarray(5);
  const compressed = (flags & 1) === 1;
  if (compressed && format.encoding === "identity") return { kind: "unchecked", raw };
  return {
    kind: "message",
    raw,
    message: compressed ? await inflate(payload, format.encoding, limit) : payload,
  };
}

function tooLarge(limit: number): ConnectError {
  return new ConnectError(
    `the request message is larger than ${limit} bytes`,
    Code.ResourceExhausted,
  );
}
