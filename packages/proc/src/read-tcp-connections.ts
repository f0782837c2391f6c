/**
 * Reads the TCP sockets of this host's network namespace from /proc/net/tcp and /proc/net/tcp6,
 * without subprocesses (Linux only).
 */
import { readFile } from "node:fs/promises";
import { parseProcNetTcp, type TcpConnection } from "./parse-net-tcp.js";

/** Reads a /proc file as text. */
export type ProcFileReader = (path: string) => Promise<string>;

/** Options of {@link readTcpConnections}. */
export interface TcpReadOptions {
  /**
   * Reads `/proc/net/tcp` and `/proc/net/tcp6`; tests pass fixture text. A file that rejects with
   * code ENOENT (IPv6 disabled in the kernel) counts as empty.
   * @default fs.promises.readFile(path, "utf8")
   */
  readFile?: ProcFileReader;
}

const defaultReader: ProcFileReader = (path) => readFile(path, "utf8");

/** Every TCP socket of the host's network namespace, IPv4 rows first. */
export async function readTcpConnections(opts: TcpReadOptions = {}): Promise<TcpConnection[]> {
  const read = opts.readFile ?? defaultReader;
  const [v4, v6] = await Promise.all([
    readOrEmpty(read, "/proc/net/tcp"),
    readOrEmpty(read, "/proc/net/tcp6"),
  ]);
  return [...parseProcNetTcp(v4, 4), ...parseProcNetTcp(v6, 6)];
}

async function readOrEmpty(read: ProcFileReader, path: string): Promise<string> {
  try {
    return await read(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}
