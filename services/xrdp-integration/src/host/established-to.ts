/**
 * The connections to each xrdp instance's port, from the host's TCP table (/proc/net/tcp and
 * /proc/net/tcp6, read by `@lucid-rdp/proc`).
 */
import { readTcpConnections, type TcpReadOptions } from "@lucid-rdp/proc";

/** The other end of a connection. */
export interface Peer {
  address: string;
  port: number;
}

/**
 * The peers of ESTABLISHED connections whose local port is in `ports`, by local port. Every port
 * of `ports` is a key, with an empty array when nothing is connected, so callers can diff two
 * snapshots. Only the accepting side of a connection has the server port as its local port, so a
 * client on this host connecting to the port is counted once.
 */
export async function establishedTo(
  ports: ReadonlySet<number>,
  opts: TcpReadOptions = {},
): Promise<Map<number, Peer[]>> {
  const byPort = new Map<number, Peer[]>();
  for (const port of ports) byPort.set(port, []);
  for (const c of await readTcpConnections(opts)) {
    if (c.state !== "ESTABLISHED") continue;
    byPort.get(c.localPort)?.push({ address: c.remoteAddress, port: c.remotePort });
  }
  return byPort;
}
