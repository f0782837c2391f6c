/** /proc/net/tcp and tcp6 text as a little-endian kernel prints it, for tests. */
import type { ProcFileReader } from "./read-tcp-connections.js";

// Rows as a little-endian kernel prints them (the words are host-order integers).
export const tcpHeader =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
export const tcp6Header =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
export const tcpFixture = [
  tcpHeader,
  // 127.0.0.1:8080 listening
  "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41001 1 0000000000000000 100 0 0 10 0",
  // 127.0.0.1:8080 <- 127.0.0.1:54321 (D431)
  "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 41002 1 0000000000000000 20 4 30 10 -1",
  // 10.1.2.3:3389 <- 192.168.0.20:50000 (C350), TIME_WAIT, no inode
  "   2: 0302010A:0D3D 1400A8C0:C350 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000",
  "",
].join("\n");
export const tcp6Fixture = [
  tcp6Header,
  // [::ffff:127.0.0.1]:3389 <- [::ffff:127.0.0.1]:40000 (9C40)
  "   0: 0000000000000000FFFF00000100007F:0D3D 0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 52001 1 0000000000000000 20 4 30 10 -1",
  // [::1]:3389 <- [2001:db8::1:0:0:1]:443 (01BB)
  "   1: 00000000000000000000000001000000:0D3D B80D0120000000000000010001000000:01BB 01 00000000:00000000 00:00000000 00000000     0        0 52002 1 0000000000000000 20 4 30 10 -1",
  // [fe80::1]:22 listening
  "   2: 000080FE000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 52003 1 0000000000000000 100 0 0 10 0",
  "",
].join("\n");

/** A reader of fixture files; a path it does not hold rejects with ENOENT. */
export function fixtureReader(files: Record<string, string>): ProcFileReader {
  return async (path) => {
    const text = files[path];
    if (text === undefined) {
      throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
    }
    return text;
  };
}
