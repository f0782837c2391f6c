/**
 * gRPC-web text mode (`application/grpc-web-text`, PROTOCOL-WEB.md): the request and response
 * bodies are base64. connect does not serve it, so the edge turns such a request into a binary
 * gRPC-web one and the response back into base64. A client may base64-encode each chunk on its
 * own, so padding may appear in the middle of a body.
 */

const textType = /^application\/grpc-web-text(\+proto)?\s*(;.*)?$/i;

/** The binary gRPC-web content type for a grpc-web-text one, or undefined for any other type. */
export function binaryTypeOfText(contentType: string | null): string | undefined {
  const m = textType.exec(contentType ?? "");
  if (m === null) return undefined;
  return "application/grpc-web+proto";
}

/** The grpc-web-text content type for a binary gRPC-web response content type. */
export function textTypeOfBinary(contentType: string): string {
  return contentType.replace(/^application\/grpc-web(?!-text)/i, "application/grpc-web-text");
}

/** Thrown when a grpc-web-text body is not base64. */
export class InvalidBase64Error extends Error {
  override readonly name = "InvalidBase64Error";
}

const base64Char = /^[A-Za-z0-9+/=]*$/;

/** Decodes a base64 body that may arrive in any chunking, padding allowed after each quantum. */
export async function* decodeBase64Body(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let pending = "";
  for await (const chunk of body) {
    pending += Buffer.from(chunk).toString("latin1").replace(/\s+/g, "");
    const whole = pending.length - (pending.length % 4);
    if (whole === 0) continue;
    const out = decodeQuanta(pending.slice(0, whole));
    pending = pending.slice(whole);
    if (out.byteLength > 0) yield out;
  }
  if (pending.length > 0) throw new InvalidBase64Error("the base64 body ends mid-quantum");
}

/**
 * Decodes whole 4-character quanta. Node's decoder stops at the first padding character, so the
 * text is cut after each padded quantum and each piece decoded on its own.
 */
function decodeQuanta(text: string): Uint8Array {
  if (!base64Char.test(text)) throw new InvalidBase64Error("the body is not base64");
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i += 4) {
    const quantum = text.slice(i, i + 4);
    const pad = quantum.indexOf("=");
    if (pad === -1) continue;
    if (pad < 2 || (pad === 2 && quantum[3] !== "=")) {
      throw new InvalidBase64Error("misplaced base64 padding");
    }
    parts.push(Buffer.from(text.slice(start, i + 4), "base64"));
    start = i + 4;
  }
  if (start < text.length) parts.push(Buffer.from(text.slice(start), "base64"));
  return Buffer.concat(parts);
}

/** Encodes each response chunk as base64 on its own (padded), as PROTOCOL-WEB.md allows. */
export async function* encodeBase64Body(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    if (chunk.byteLength > 0) yield Buffer.from(Buffer.from(chunk).toString("base64"), "latin1");
  }
}
