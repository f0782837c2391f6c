/**
 * The "source" the door's connect limits count per: an IPv4 address, or an IPv6 address's /64
 * (one subscriber usually holds a whole /64, so limiting per address would let it rotate freely).
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack listener reports) is its IPv4 address.
 */
import { isIPv4, isIPv6 } from "node:net";

/** The key `address` is limited under: `a.b.c.d`, or `xxxx:xxxx:xxxx:xxxx::/64`. */
export function sourceKey(address: string): string {
  const bare = address.split("%")[0] ?? address; // no zone id (fe80::1%eth0)
  if (isIPv4(bare) || !isIPv6(bare)) return bare;
  const words = ipv6Words(bare);
  const mapped = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff;
  if (mapped) {
    const [hi = 0, lo = 0] = words.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return `${words
    .slice(0, 4)
    .map((w) => w.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit words of a valid IPv6 address (with "::" and a trailing dotted IPv4 expanded). */
function ipv6Words(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((w) => parseInt(w, 16)));
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
