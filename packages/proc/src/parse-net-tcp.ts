/**
 * The parser of /proc/net/tcp and /proc/net/tcp6: the TCP sockets of a network namespace.
 *
 * Row format (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c), after one header line:
 *
 * ```
 *    0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000  0 43872 ...
 *   sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode
 * ```
 *
 * Addresses are printed as 32-bit words with `%08X`, each word being the network-order bytes of
 * the address loaded as a host-order integer: one word for IPv4, four for IPv6. On a little-endian
 * host 127.0.0.1 (bytes 7F 00 00 01) is therefore `0100007F`. Ports are printed already converted
 * to host order (`%04X` of ntohs), so `1F90` is 8080.
 */
import { endianness } from "node:os";

/** TCP states in kernel order (include/net/tcp_states.h): code 0x01 is ESTABLISHED. */
const tcpStates = [
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "CLOSING",
] as const;

/** A TCP socket state, as include/net/tcp_states.h names it. */
export type TcpState = (typeof tcpStates)[number];

/** One row of /proc/net/tcp or /proc/net/tcp6. */
export interface TcpConnection {
  /** 4 for /proc/net/tcp, 6 for /proc/net/tcp6 (which includes IPv4-mapped addresses). */
  family: 4 | 6;
  /** Dotted quad, or RFC 5952 text for IPv6 (`::1`, `::ffff:127.0.0.1`, `fe80::1`). */
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: TcpState;
  /** Socket inode (matches `socket:[inode]` links in /proc/<pid>/fd); 0 for TIME_WAIT sockets. */
  inode: number;
}

const littleEndian = endianness() === "LE";

/**
 * Parses the text of /proc/net/tcp (`family` 4) or /proc/net/tcp6 (`family` 6). Rows with a
 * state code outside 01..0B are skipped; a row that is not in the kernel's format throws.
 */
export function parseProcNetTcp(text: string, family: 4 | 6): TcpConnection[] {
  const rows: TcpConnection[] = [];
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i]?.trim() ?? "";
    if (line === "") continue;
    const fields = line.split(/\s+/);
    const local = fields[1];
    const remote = fields[2];
    const st = fields[3];
    const inode = fields[9];
    if (
      local === undefined ||
      remote === undefined ||
      st === undefined ||
      inode === undefined ||
      !/^[0-9A-Fa-f]{2}$/.test(st) ||
      !/^\d+$/.test(inode)
    ) {
      throw new Error(`malformed /proc/net/tcp${family === 6 ? "6" : ""} row: ${line}`);
    }
    const state = tcpStates[Number.parseInt(st, 16) - 1];
    if (state === undefined) continue;
    const l = parseEndpoint(local, family, line);
    const r = parseEndpoint(remote, family, line);
    rows.push({
      family,
      localAddress: l.address,
      localPort: l.port,
      remoteAddress: r.address,
      remotePort: r.port,
      state,
      inode: Number(inode),
    });
  }
  return rows;
}

/** Decodes `HEXADDR:HEXPORT`. */
function parseEndpoint(
  field: string,
  family: 4 | 6,
  line: string,
): { address: string; port: number } {
  const words = family === 4 ? 1 : 4;
  const match = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(field);
  if (match === null || match[1]?.length !== words * 8) {
    throw new Error(
      `malformed address ${field} in /proc/net/tcp${family === 6 ? "6" : ""}: ${line}`,
    );
  }
  const hex = match[1];
  const bytes = Buffer.alloc(words * 4);
  for (let w = 0; w < words; w += 1) {
    const word = Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    // The word is the address bytes read as a host-order integer: write it back the same way.
    if (littleEndian) bytes.writeUInt32LE(word, w * 4);
    else bytes.writeUInt32BE(word, w * 4);
  }
  const port = Number.parseInt(match[2] ?? "", 16);
  return { address: family === 4 ? formatIPv4(bytes) : formatIPv6(bytes), port };
}

function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join(".");
}

/**
 * RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups (the
 * first on a tie) as `::`, and IPv4-mapped addresses (::ffff:0:0/96) in dotted form.
 */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`IPv6 address needs 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes.subarray(12))}`;
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const text = groups.map((g) => g.toString(16));
  if (bestLength < 2) return text.join(":");
  const head = text.slice(0, bestStart).join(":");
  const tail = text.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}
