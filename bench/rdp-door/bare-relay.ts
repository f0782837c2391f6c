/**
 * A reference point for the rdp-door benchmark, not a baseline: the least a relay in Node can do,
 * one listener per upstream in BENCH_RELAY_UPSTREAMS (ports, comma-separated) that connects each
 * client to its upstream and `pipe`s both ways, with noDelay and half-close as the door sets them,
 * and nothing else (no first-packet read, no lookup, no limits, no metrics). Measured beside the
 * door, it tells what the door adds from what relaying through a Node process costs at all.
 * Prints "ready <upstream>=<listen port> ..." on stderr once every listener listens.
 */
import { once } from "node:events";
import { connect, createServer } from "node:net";

const upstreams = (process.env.BENCH_RELAY_UPSTREAMS ?? "").split(",").filter((p) => p !== "");
if (upstreams.length === 0 || upstreams.some((p) => !/^\d+$/.test(p))) {
  process.stderr.write("BENCH_RELAY_UPSTREAMS must be ports, comma-separated\n");
  process.exit(2);
}
const pairs: string[] = [];
for (const upstream of upstreams) {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const up = connect({ host: "127.0.0.1", port: Number(upstream), allowHalfOpen: true });
    up.setNoDelay(true);
    client.pipe(up);
    up.pipe(client);
    client.on("error", () => up.destroy());
    up.on("error", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  pairs.push(`${upstream}=${address.port}`);
}
process.once("SIGTERM", () => process.exit(0));
process.stderr.write(`ready ${pairs.join(" ")}\n`);
