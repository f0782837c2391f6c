/**
 * The parser of /proc/<pid>/auxv, the auxiliary vector the kernel gave the process (getauxval(3)):
 * pairs of unsigned longs, type then value, ending with type 0.
 */

/** AT_PAGESZ, the auxiliary vector entry that holds the page size. */
const atPageSize = 6n;
/** Architectures Node runs on whose `unsigned long`, the auxv word, is 32 bits. */
const arch32 = new Set(["arm", "ia32", "mips", "mipsel", "ppc"]);

/** How the auxv words of a host are laid out. */
export interface AuxvLayout {
  /** Bytes per word: 4 or 8. */
  wordBytes: 4 | 8;
  littleEndian: boolean;
}

/** The layout of this host's auxv, from `process.arch` and the byte order. */
export function hostAuxvLayout(arch: string, littleEndian: boolean): AuxvLayout {
  return { wordBytes: arch32.has(arch) ? 4 : 8, littleEndian };
}

/** The page size (AT_PAGESZ) of an auxiliary vector; undefined when it has none. */
export function parseAuxvPageSize(auxv: Buffer, layout: AuxvLayout): number | undefined {
  const word = layout.wordBytes;
  const le = layout.littleEndian;
  const at = (offset: number): bigint => {
    if (word === 8) return le ? auxv.readBigUInt64LE(offset) : auxv.readBigUInt64BE(offset);
    return BigInt(le ? auxv.readUInt32LE(offset) : auxv.readUInt32BE(offset));
  };
  for (let offset = 0; offset + 2 * word <= auxv.length; offset += 2 * word) {
    const type = at(offset);
    if (type === 0n) break;
    if (type === atPageSize) return Number(at(offset + word));
  }
  return undefined;
}
