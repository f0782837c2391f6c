import { endianness } from "node:os";
import { hostAuxvLayout, parseAuxvPageSize } from "./parse-auxv.js";
import { readProcBytes } from "./proc-read.js";

/**
 * The kernel's page size (the unit of RSS in /proc/<pid>/stat), from this process's auxiliary
 * vector (`<procRoot>/self/auxv`). 4096, the size on x86-64 and most arm64 kernels, when it cannot
 * be read. It is learnt without `getconf PAGESIZE`, a subprocess.
 */
export function readPageSize(procRoot = "/proc"): number {
  const auxv = readProcBytes(`${procRoot}/self/auxv`);
  if (auxv === undefined) return 4096;
  return parseAuxvPageSize(auxv, hostAuxvLayout(process.arch, endianness() === "LE")) ?? 4096;
}
