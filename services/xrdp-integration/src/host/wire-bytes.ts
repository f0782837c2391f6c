/** Little builders of the RDP probe's wire bytes (big-endian for TPKT/X.224/MCS, little-endian for RDP). */

export function u8(...values: number[]): Buffer {
  return Buffer.from(values);
}

export function u16be(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

export function u16le(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
}

export function u32le(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}
