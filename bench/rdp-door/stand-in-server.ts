/**
 * The upstreams of the rdp-door benchmark in a process of their own, as xrdp is one: a source, a
 * sink and a confirm stand-in (stand-in-xrdp.ts) on 127.0.0.1, BENCH_TRANSFER_BYTES bytes per
 * transfer. Prints "ready source=<port> sink=<port> confirm=<port>" on stderr once all listen,
 * then one line per problem as it happens: "problem: <what>" for a connection that broke the
 * script, "problem: routing token seen by <kind>" for a request that still carried its token.
 */
import { startStandIn } from "./stand-in-xrdp.js";

const bytes = Number(process.env.BENCH_TRANSFER_BYTES ?? "");
if (!Number.isSafeInteger(bytes) || bytes <= 0) {
  process.stderr.write("BENCH_TRANSFER_BYTES must be a positive integer\n");
  process.exit(2);
}
const report = (what: string) => process.stderr.write(`problem: ${what}\n`);
const [source, sink, confirm] = await Promise.all(
  (["source", "sink", "confirm"] as const).map((kind) =>
    startStandIn(kind, kind === "confirm" ? 0 : bytes, {
      onError: report,
      onToken: () => report(`routing token seen by ${kind}`),
    }),
  ),
);
process.once("SIGTERM", () => process.exit(0));
process.stderr.write(`ready source=${source?.port} sink=${sink?.port} confirm=${confirm?.port}\n`);
