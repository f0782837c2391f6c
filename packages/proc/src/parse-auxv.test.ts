import { describe, expect, it } from "vitest";
import { hostAuxvLayout, parseAuxvPageSize } from "./parse-auxv.js";

/** An auxiliary vector of (type, value) pairs in the given layout. */
function auxv(pairs: [number, number][], wordBytes: 4 | 8, littleEndian: boolean): Buffer {
  const buf = Buffer.alloc(pairs.length * 2 * wordBytes);
  pairs.forEach(([type, value], i) => {
    for (const [n, offset] of [
      [type, i * 2 * wordBytes],
      [value, (i * 2 + 1) * wordBytes],
    ] as const) {
      if (wordBytes === 8) {
        if (littleEndian) buf.writeBigUInt64LE(BigInt(n), offset);
        else buf.writeBigUInt64BE(BigInt(n), offset);
      } else if (littleEndian) buf.writeUInt32LE(n, offset);
      else buf.writeUInt32BE(n, offset);
    }
  });
  return buf;
}

describe("hostAuxvLayout()", () => {
  it("uses 4-byte words on 32-bit architectures and 8-byte words elsewhere", () => {
    expect(hostAuxvLayout("arm", true)).toEqual({ wordBytes: 4, littleEndian: true });
    expect(hostAuxvLayout("arm64", true)).toEqual({ wordBytes: 8, littleEndian: true });
    expect(hostAuxvLayout("s390x", false)).toEqual({ wordBytes: 8, littleEndian: false });
  });
});

describe("parseAuxvPageSize()", () => {
  it("finds AT_PAGESZ (6) in every layout", () => {
    const pairs: [number, number][] = [
      [3, 0x400040],
      [6, 16384],
      [0, 0],
    ];
    for (const wordBytes of [4, 8] as const) {
      for (const littleEndian of [true, false]) {
        const layout = { wordBytes, littleEndian };
        expect(parseAuxvPageSize(auxv(pairs, wordBytes, littleEndian), layout)).toBe(16384);
      }
    }
  });

  it("stops at AT_NULL and is undefined without AT_PAGESZ", () => {
    const layout = { wordBytes: 8, littleEndian: true } as const;
    const afterNull = auxv(
      [
        [3, 1],
        [0, 0],
        [6, 4096],
      ],
      8,
      true,
    );
    expect(parseAuxvPageSize(afterNull, layout)).toBeUndefined();
    expect(parseAuxvPageSize(Buffer.alloc(0), layout)).toBeUndefined();
  });
});
