/**
 * The allocators of the port-allocation benchmark, run as their own process (pinned by the
 * caller): `allocators.ts <redis url> <allocators> <duration ms>`. Prints one JSON line.
 *
 * Each allocator is a server-manager replica's port step, with its own Redis connection and the
 * real code: RedisPortLeases.allocate from packages/storage, from a random offset given by
 * scanOffset from server-manager's port pool, with the orchestrator's claim owner (one Lua script:
 * the first free port from the offset, claimed in the same step). All allocators fill the same
 * node's 100-port default range at once, the case where they would race, and move to a fresh
 * node when it is full.
 *
 * Afterwards: no (node, port) may have been granted twice, and Redis must hold exactly the
 * grants, each with its owner.
 */
import { randomUUID } from "node:crypto";
import { claimOwner, defaultPortRange, scanOffset } from "@lucid-rdp/server-manager";
import { createRedisClient, RedisPortLeases } from "@lucid-rdp/storage";

const [url, countArg, durationArg] = process.argv.slice(2);
const allocatorCount = Number(countArg);
const durationMs = Number(durationArg);
if (url === undefined || !(allocatorCount > 0) || !(durationMs > 0)) {
  process.stderr.write("usage: allocators.ts <redis url> <allocators> <duration ms>\n");
  process.exit(2);
}

const range = defaultPortRange;
const keyPrefix = `bench:${randomUUID()}:`;

interface Grant {
  readonly node: string;
  readonly port: number;
  readonly owner: string;
}

const clients = Array.from({ length: allocatorCount }, () => createRedisClient(url));
await Promise.all(
  clients.map(
    (c) =>
      new Promise<void>((resolve, reject) => {
        if (c.status === "ready") resolve();
        c.once("ready", () => resolve());
        c.once("end", () => reject(new Error("redis connection ended")));
      }),
  ),
);

let nodeIndex = 0;
const nodeName = (i: number) => `bench-node-${i}`;
const grants: Grant[] = [];
/** Allocations that found the node full (each allocator's last one on every node). */
let exhausted = 0;

async function allocator(ports: RedisPortLeases, deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    const index = nodeIndex;
    const node = nodeName(index);
    const owner = claimOwner(randomUUID(), new Date());
    const port = await ports.allocate(node, range, owner, { offset: scanOffset(range) });
    if (port !== undefined) {
      grants.push({ node, port, owner });
      continue;
    }
    // The node is full: every allocator moves on to the next one.
    exhausted++;
    if (nodeIndex === index) nodeIndex = index + 1;
  }
}

const portLeases = clients.map((c) => new RedisPortLeases(c, { keyPrefix }));
const started = performance.now();
const deadline = started + durationMs;
await Promise.all(portLeases.map((p) => allocator(p, deadline)));
const elapsedMs = performance.now() - started;

// Verification, outside the timed part.
const seen = new Map<string, string>();
let doubleAllocations = 0;
for (const g of grants) {
  const key = `${g.node}:${g.port}`;
  if (seen.has(key)) doubleAllocations++;
  seen.set(key, g.owner);
}
let mismatches = 0;
const check = portLeases[0] as RedisPortLeases;
for (let i = 0; i <= nodeIndex; i++) {
  const node = nodeName(i);
  for (const [port, owner] of await check.list(node)) {
    if (seen.get(`${node}:${port}`) !== owner) mismatches++;
  }
}
const inRedis = (
  await Promise.all(Array.from({ length: nodeIndex + 1 }, (_, i) => check.list(nodeName(i))))
).reduce((n, m) => n + m.size, 0);
if (inRedis !== seen.size) mismatches += Math.abs(inRedis - seen.size);

// A reference point, not the baseline: the same 4 Node connections sending plain SET NX (one
// round trip, no script) for as long, to tell the Node client's share of the gap from the port
// step's (the allocating Lua script).
let setNx = 0;
const setNxDeadline = performance.now() + durationMs;
const setNxStarted = performance.now();
await Promise.all(
  clients.map(async (c) => {
    while (performance.now() < setNxDeadline) {
      await c.set(`${keyPrefix}nx:${randomUUID()}`, "owner", "NX");
      setNx++;
    }
  }),
);
const setNxPerSecond = setNx / ((performance.now() - setNxStarted) / 1000);

await Promise.all(clients.map((c) => c.quit()));
process.stdout.write(
  `${JSON.stringify({
    allocators: allocatorCount,
    allocations: grants.length,
    elapsedMs,
    perSecond: grants.length / (elapsedMs / 1000),
    exhausted,
    nodesFilled: nodeIndex,
    doubleAllocations,
    mismatches,
    nodeSetNxPerSecond: setNxPerSecond,
  })}\n`,
);
