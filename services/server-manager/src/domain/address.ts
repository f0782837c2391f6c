/** A node's API address, host:port, with IPv6 hosts in brackets. */

/** host:port (IPv6 hosts in brackets) -> [host, port]. */
export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(":");
  return [address.slice(0, i).replace(/^\[|\]$/g, ""), Number(address.slice(i + 1))];
}

/** [host, port] -> host:port, bracketing IPv6. */
export function joinAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
