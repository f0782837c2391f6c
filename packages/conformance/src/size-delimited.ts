/**
 * The framing of the conformance runner's stdin and stdout: a 32-bit big-endian length, then that
 * many bytes of one binary protobuf message.
 */

/** Reads one size-delimited message from `input` and resolves with its bytes. */
export async function readSizeDelimited(input: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  let buffered = Buffer.alloc(0);
  for await (const chunk of input) {
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) break;
  }
  if (buffered.length < 4) {
    throw new Error(`expected a 4-byte length prefix, got ${buffered.length} bytes before EOF`);
  }
  const size = buffered.readUInt32BE(0);
  if (buffered.length < 4 + size) {
    throw new Error(`expected a ${size}-byte message, got ${buffered.length - 4} before EOF`);
  }
  return buffered.subarray(4, 4 + size);
}

/** Frames `message` with its 32-bit big-endian length. */
export function sizeDelimited(message: Uint8Array): Uint8Array {
  const framed = Buffer.alloc(4 + message.length);
  framed.writeUInt32BE(message.length, 0);
  framed.set(message, 4);
  return framed;
}
