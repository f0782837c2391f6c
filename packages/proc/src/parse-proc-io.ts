/** The parser of /proc/<pid>/io (proc(5)). */

/** The storage I/O of a process; a field is absent when the file lacks it. */
export interface ProcIo {
  /** read_bytes: bytes the process made storage read. */
  readBytes?: number;
  /** write_bytes: bytes the process caused to be written to storage. */
  writeBytes?: number;
}

/** Parses the text of /proc/<pid>/io ("rchar: 1\nwchar: 2\n...read_bytes: 4096\n..."). */
export function parseProcIo(text: string): ProcIo {
  const io: ProcIo = {};
  const read = /^read_bytes: (\d+)$/m.exec(text)?.[1];
  const written = /^write_bytes: (\d+)$/m.exec(text)?.[1];
  if (read !== undefined) io.readBytes = Number(read);
  if (written !== undefined) io.writeBytes = Number(written);
  return io;
}
