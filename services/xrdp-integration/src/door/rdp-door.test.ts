/**
 * RdpDoor against loopback TCP "xrdp" servers started here: routing by token, the refusal bytes
 * with no upstream connection, half-close and reset passed through, backpressure, connect limits.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { createLogger } from "@lucid-rdp/runtime";
import { closeServer, portOf, waitFor } from "@lucid-rdp/testing";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  encodeNegotiationFailure,
  parseConnectionRequest,
  withoutRoutingToken,
} from "../domain/x224-connection-request.js";
import { capturedWithToken, tokenWithC } from "../domain/x224-test-fixtures.js";
import type { DoorLookup, DoorRefusal, RdpDoorOptions } from "./door-types.js";
import { RdpDoor } from "./rdp-door.js";
import { maxQueuedBytes } from "./relay.js";

const refusal = Buffer.from(encodeNegotiationFailure(3));
const negReq = Buffer.from("0100080003000000", "hex");

/** A Connection Request with `line` (if any) before an RDP_NEG_REQ asking for TLS | HYBRID. */
function requestWith(line?: string | Buffer): Buffer {
  const variable =
    line === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from(line), Buffer.from("\r\n")]);
  const out = Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0]), variable, negReq]);
  out.writeUInt16BE(out.length, 2);
  out[4] = out.length - 5;
  return out;
}

/** What the upstream should receive for `request`: the request without its token. */
function stripped(request: Buffer): Buffer {
  const parsed = parseConnectionRequest(request);
  if (parsed.kind !== "parsed") throw new Error("test request does not parse");
  return Buffer.from(withoutRoutingToken(parsed.request));
}

interface FakeXrdp {
  readonly server: Server;
  readonly port: number;
  readonly sockets: Socket[];
  /** Bytes each connection sent, in connection order. */
  received(i: number): Buffer;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeXrdp(): Promise<FakeXrdp> {
  const sockets: Socket[] = [];
  const chunks: Buffer[][] = [];
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    const mine: Buffer[] = [];
    sockets.push(s);
    chunks.push(mine);
    s.on("error", () => {});
    s.on("data", (d: Buffer) => mine.push(d));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await closeServer(server);
  });
  return {
    server,
    port: portOf(server),
    sockets,
    received: (i) => Buffer.concat(chunks[i] ?? []),
  };
}

interface DoorUnderTest {
  readonly door: RdpDoor;
  readonly port: number;
  readonly registry: Registry;
  readonly refusals: DoorRefusal[];
  /** The door's side of each client connection, in accept order. */
  readonly accepted: Socket[];
  readonly logs: string[];
}

async function startDoor(
  lookup: (token: string) => DoorLookup | undefined,
  extra: Partial<RdpDoorOptions> = {},
): Promise<DoorUnderTest> {
  const sink = new PassThrough();
  const logs: string[] = [];
  createInterface({ input: sink }).on("line", (l) => logs.push(l));
  const refusals: DoorRefusal[] = [];
  const door = new RdpDoor({
    logger: createLogger({ service: "door-test", level: "debug", destination: sink }),
    lookup,
    onRefused: (r) => refusals.push(r),
    ...extra,
  });
  const registry = new Registry();
  door.attachMetrics(registry);
  const accepted: Socket[] = [];
  const server = createServer({ noDelay: true }, (s) => {
    accepted.push(s);
    door.handle(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    await door.close();
    await closeServer(server);
  });
  return { door, port: portOf(server), registry, refusals, accepted, logs };
}

interface Client {
  readonly socket: Socket;
  received(): Buffer;
  readonly state: { ended: boolean; closed: boolean; error: string | undefined };
}

async function dial(port: number, localAddress = "127.0.0.1"): Promise<Client> {
  const socket = netConnect({ host: "127.0.0.1", port, localAddress, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  const state = { ended: false, closed: false, error: undefined as string | undefined };
  socket.on("data", (d: Buffer) => chunks.push(d));
  socket.on("end", () => {
    state.ended = true;
  });
  socket.on("close", () => {
    state.closed = true;
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    state.error = e.code ?? e.message;
  });
  await once(socket, "connect");
  cleanups.push(() => {
    socket.destroy();
  });
  return { socket, received: () => Buffer.concat(chunks), state };
}

async function metric(registry: Registry, line: string): Promise<string | undefined> {
  return (await registry.metrics()).split("\n").find((l) => l.startsWith(line));
}

const route = (port: number, instanceId = "inst-1"): DoorLookup => ({
  kind: "route",
  instanceId,
  serverId: `srv-of-${instanceId}`,
  port,
});

describe("RdpDoor", () => {
  describe("handle()", () => {
    it("relays each token to its own upstream, token stripped, and lists the connections", async () => {
      const [a, b] = [await fakeXrdp(), await fakeXrdp()];
      const d = await startDoor((t) =>
        t === "tok-a"
          ? route(a.port, "inst-a")
          : t === "tok-b"
            ? route(b.port, "inst-b")
            : undefined,
      );
      const requestA = requestWith("tok-a");
      const requestB = requestWith("tok-b");
      const ca = await dial(d.port);
      // Split over three writes: the door waits for the whole packet.
      ca.socket.write(requestA.subarray(0, 1));
      ca.socket.write(requestA.subarray(1, 9));
      ca.socket.write(requestA.subarray(9));
      const cb = await dial(d.port);
      cb.socket.write(requestB);
      await waitFor("both upstreams connected", () => a.sockets.length + b.sockets.length, {
        until: (n) => n === 2,
      });
      await waitFor("A's request upstream", () => a.received(0), {
        until: (x) => x.length >= stripped(requestA).length,
      });
      await waitFor("B's request upstream", () => b.received(0), {
        until: (x) => x.length >= stripped(requestB).length,
      });
      expect(a.received(0)).toEqual(stripped(requestA));
      expect(b.received(0)).toEqual(stripped(requestB));
      a.sockets[0]?.write("confirm-a");
      b.sockets[0]?.write("confirm-b");
      await waitFor("A's answer", () => ca.received().toString(), {
        until: (x) => x === "confirm-a",
      });
      await waitFor("B's answer", () => cb.received().toString(), {
        until: (x) => x === "confirm-b",
      });

      const conns = d.door.connections();
      expect(conns.map((c) => c.instanceId).sort()).toEqual(["inst-a", "inst-b"]);
      const ofA = conns.find((c) => c.instanceId === "inst-a");
      expect(ofA).toMatchObject({
        serverId: "srv-of-inst-a",
        peer: { address: "127.0.0.1", port: ca.socket.localPort },
        upstreamLocalPort: a.sockets[0]?.remotePort,
        bytesFromClient: requestA.length,
        bytesToClient: "confirm-a".length,
      });
      expect(d.door.peerOfUpstreamPort(a.sockets[0]?.remotePort as number)).toEqual({
        address: "127.0.0.1",
        port: ca.socket.localPort,
      });
      expect(await metric(d.registry, "lucid_rdp_door_connections_open")).toBe(
        "lucid_rdp_door_connections_open 2",
      );
      expect(await metric(d.registry, "lucid_rdp_door_connections_total")).toBe(
        "lucid_rdp_door_connections_total 2",
      );
      expect(await metric(d.registry, 'lucid_rdp_door_bytes_total{direction="to_client"}')).toBe(
        'lucid_rdp_door_bytes_total{direction="to_client"} 18',
      );
    });

    it("relays xfreerdp's captured request, the Cookie: msts= form and a space-padded token", async () => {
      const up = await fakeXrdp();
      const d = await startDoor((t) => (t === tokenWithC ? route(up.port) : undefined));
      const requests = [
        Buffer.from(capturedWithToken, "hex"),
        requestWith(`Cookie: msts=${tokenWithC}`),
        requestWith(`${tokenWithC} `),
      ];
      for (const [i, request] of requests.entries()) {
        const c = await dial(d.port);
        c.socket.write(request);
        await waitFor(`request ${i} upstream`, () => up.received(i), {
          until: (x) => x.length >= stripped(request).length,
        });
        expect(up.received(i)).toEqual(stripped(request));
      }
      expect(d.refusals).toEqual([]);
    });

    it("passes the bytes a client sent after its first packet on, after the request", async () => {
      const up = await fakeXrdp();
      const d = await startDoor(() => route(up.port));
      const request = requestWith("tok");
      const c = await dial(d.port);
      c.socket.write(Buffer.concat([request, Buffer.from("early")]));
      const want = Buffer.concat([stripped(request), Buffer.from("early")]);
      await waitFor("all bytes upstream", () => up.received(0), {
        until: (x) => x.length >= want.length,
      });
      expect(up.received(0)).toEqual(want);
    });
  });

  describe("refusals", () => {
    const long = "x".repeat(239);
    const cases: Array<{
      name: string;
      send: Buffer;
      reason: DoorRefusal["reason"];
      instanceId?: string;
      hashed: boolean;
    }> = [
      {
        name: "an unknown token",
        send: requestWith("bogus-token"),
        reason: "unknown",
        hashed: true,
      },
      {
        name: "an ended instance's token",
        send: requestWith("ended-token"),
        reason: "ended",
        instanceId: "inst-gone",
        hashed: true,
      },
      {
        name: "a mstshash cookie",
        send: requestWith("Cookie: mstshash=alice"),
        reason: "missing",
        hashed: false,
      },
      { name: "no token line", send: requestWith(), reason: "missing", hashed: false },
      {
        name: "a token over 238 bytes",
        send: requestWith(long),
        reason: "malformed",
        hashed: true,
      },
      {
        name: "a control byte in the token",
        send: requestWith(Buffer.from([0x61, 0x07, 0x62])),
        reason: "malformed",
        hashed: false,
      },
      {
        name: "not a Connection Request",
        send: Buffer.from("0300000b06d00000000000", "hex"),
        reason: "malformed",
        hashed: false,
      },
    ];
    for (const c of cases) {
      it(`answers ${c.name} with the negotiation failure, counts "${c.reason}" and connects nothing`, async () => {
        const up = await fakeXrdp();
        const d = await startDoor((t) =>
          t === "ended-token"
            ? { kind: "ended", instanceId: "inst-gone" }
            : t === "good"
              ? route(up.port)
              : undefined,
        );
        const client = await dial(d.port);
        const localPort = client.socket.localPort;
        client.socket.write(c.send);
        await waitFor("the door's end", () => client.state.ended, { until: (e) => e });
        expect(client.received()).toEqual(refusal);
        client.socket.end();
        await waitFor("the connection closed", () => client.state.closed, { until: (x) => x });
        expect(up.sockets).toHaveLength(0);
        expect(d.refusals).toHaveLength(1);
        expect(d.refusals[0]).toMatchObject({
          reason: c.reason,
          peer: { address: "127.0.0.1", port: localPort },
          ...(c.instanceId === undefined ? {} : { instanceId: c.instanceId }),
        });
        expect(d.refusals[0]?.tokenHash === undefined).toBe(!c.hashed);
        if (c.hashed) expect(d.refusals[0]?.tokenHash).toMatch(/^[0-9a-f]{12}$/);
        expect(await metric(d.registry, `lucid_rdp_door_refused_total{reason="${c.reason}"}`)).toBe(
          `lucid_rdp_door_refused_total{reason="${c.reason}"} 1`,
        );
        const lines = d.logs.filter((l) => l.includes("refused"));
        expect(lines).toHaveLength(1);
        expect(lines.join("\n")).not.toContain("bogus-token");
        expect(lines.join("\n")).not.toContain("ended-token");
      });
    }

    it('answers a client that does not finish its first packet in time, counted as "timeout"', async () => {
      const up = await fakeXrdp();
      const d = await startDoor(() => route(up.port), { limits: { firstPacketTimeoutMs: 200 } });
      const client = await dial(d.port);
      client.socket.write(requestWith("good").subarray(0, 10));
      await waitFor("the door's end", () => client.state.ended, { until: (e) => e });
      expect(client.received()).toEqual(refusal);
      expect(up.sockets).toHaveLength(0);
      expect(d.refusals.map((r) => r.reason)).toEqual(["timeout"]);
    });

    it('answers a token whose xrdp refuses the connection, counted as "upstream"', async () => {
      const gone = await fakeXrdp();
      await closeServer(gone.server);
      const d = await startDoor(() => route(gone.port, "inst-down"));
      const client = await dial(d.port);
      client.socket.write(requestWith("good"));
      await waitFor("the door's end", () => client.state.ended, { until: (e) => e });
      expect(client.received()).toEqual(refusal);
      expect(d.refusals[0]).toMatchObject({ reason: "upstream", instanceId: "inst-down" });
    });
  });

  describe("owner callbacks", () => {
    it('refuses as "upstream" when the lookup throws, and survives callbacks that throw', async () => {
      const up = await fakeXrdp();
      const d = await startDoor(
        (t) => {
          if (t === "boom") throw new Error("store gone");
          return route(up.port);
        },
        {
          onConnection: () => {
            throw new Error("listener broken");
          },
        },
      );
      const boom = await dial(d.port);
      boom.socket.write(requestWith("boom"));
      await waitFor("the door's end", () => boom.state.ended, { until: (e) => e });
      expect(boom.received()).toEqual(refusal);
      expect(d.refusals.map((r) => r.reason)).toEqual(["upstream"]);
      expect(d.logs.some((l) => l.includes("rdp door lookup failed"))).toBe(true);
      const ok = await dial(d.port);
      ok.socket.write(requestWith("fine"));
      await waitFor("relayed despite the throwing listener", () => up.sockets.length, {
        until: (n) => n === 1,
      });
      expect(d.logs.some((l) => l.includes("rdp door callback failed"))).toBe(true);
    });
  });

  describe("relay", () => {
    async function relayed(): Promise<{
      client: Client;
      upstream: Socket;
      up: FakeXrdp;
      d: DoorUnderTest;
      request: Buffer;
    }> {
      const up = await fakeXrdp();
      const d = await startDoor(() => route(up.port));
      const client = await dial(d.port);
      const request = requestWith("tok");
      client.socket.write(request);
      await waitFor("the relay", () => up.sockets[0], {});
      await waitFor("the request upstream", () => up.received(0), {
        until: (x) => x.length >= stripped(request).length,
      });
      return { client, upstream: up.sockets[0] as Socket, up, d, request };
    }

    it("passes the client's FIN on while the upstream keeps sending", async () => {
      const { client, upstream } = await relayed();
      let upstreamEnded = false;
      upstream.on("end", () => {
        upstreamEnded = true;
      });
      client.socket.end();
      await waitFor("the upstream seeing the client's FIN", () => upstreamEnded, {
        until: (e) => e,
      });
      upstream.write("after-fin");
      await waitFor("the client reading after its FIN", () => client.received().toString(), {
        until: (x) => x === "after-fin",
      });
      upstream.end();
      await waitFor("the client closed", () => client.state.closed, { until: (x) => x });
      expect(client.state.error).toBeUndefined();
    });

    it("passes the upstream's FIN on while the client keeps sending", async () => {
      const { client, upstream, up, request } = await relayed();
      upstream.end("bye");
      await waitFor("the client seeing the upstream's FIN", () => client.state.ended, {
        until: (e) => e,
      });
      expect(client.received().toString()).toBe("bye");
      client.socket.write("still-here");
      const want = Buffer.concat([stripped(request), Buffer.from("still-here")]);
      await waitFor("the upstream reading after its FIN", () => up.received(0), {
        until: (x) => x.length >= want.length,
      });
      expect(up.received(0)).toEqual(want);
      client.socket.end();
      await waitFor("the client closed", () => client.state.closed, { until: (x) => x });
    });

    it("passes a client's reset on as a reset", async () => {
      const { client, upstream } = await relayed();
      let upstreamError: string | undefined;
      upstream.on("error", (e: NodeJS.ErrnoException) => {
        upstreamError = e.code;
      });
      client.socket.resetAndDestroy();
      await waitFor("the upstream reset", () => upstreamError, {
        until: (e) => e === "ECONNRESET",
      });
    });

    it("passes an upstream's reset on as a reset, and closes the relay", async () => {
      const { client, upstream, d } = await relayed();
      upstream.resetAndDestroy();
      await waitFor("the client reset", () => client.state.error, {
        until: (e) => e === "ECONNRESET",
      });
      await waitFor("the relay gone", () => d.door.connections().length, { until: (n) => n === 0 });
    });

    it("holds back an upstream writing 64 MiB to a client that reads nothing, then delivers it intact", {
      timeout: 120_000,
    }, async () => {
      const { client, upstream, d } = await relayed();
      client.socket.pause();
      const block = createHash("sha256").update("seed").digest();
      const mib = Buffer.alloc(1 << 20);
      for (let i = 0; i < mib.length; i += block.length) block.copy(mib, i);
      const total = 64;
      let written = 0;
      let blocked = false;
      const writeMore = () => {
        while (written < total) {
          written++;
          if (!upstream.write(mib)) {
            blocked = true;
            upstream.once("drain", () => {
              blocked = false;
              writeMore();
            });
            return;
          }
        }
        upstream.end();
      };
      writeMore();
      // The door stops reading the upstream: its writes back up into its own buffer.
      await waitFor("the upstream held back", () => blocked && upstream.writableLength > 0, {
        until: (b) => b,
      });
      const doorSide = d.accepted[0] as Socket;
      const doorBuffered = doorSide.writableLength;
      // At most the relay's mark and the one read (64 KiB at most) that crossed it.
      expect(doorBuffered).toBeLessThanOrEqual(maxQueuedBytes + (1 << 16));
      expect(written).toBeLessThan(total);

      const hash = createHash("sha256");
      let got = 0;
      client.socket.removeAllListeners("data");
      client.socket.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        got += chunk.length;
      });
      client.socket.resume();
      await waitFor("all 64 MiB at the client", () => got, {
        until: (n) => n >= total * mib.length,
        timeoutMs: 100_000,
      });
      const want = createHash("sha256");
      for (let i = 0; i < total; i++) want.update(mib);
      expect(got).toBe(total * mib.length);
      expect(hash.digest("hex")).toBe(want.digest("hex"));
    });
  });

  describe("connect limits", () => {
    it("cuts a source over its rate at once, logs it once a minute, and lets it in as tokens refill", async () => {
      const up = await fakeXrdp();
      let now = Date.parse("2026-12-06T12:00:00Z");
      const d = await startDoor(() => route(up.port), {
        clock: () => new Date(now),
        limits: { ratePerMinute: 60, burst: 3 },
      });
      const clients: Client[] = [];
      for (let i = 0; i < 3; i++) clients.push(await dial(d.port));
      const over = [await dial(d.port), await dial(d.port)];
      for (const c of over) {
        await waitFor("the connection over the rate cut", () => c.state.ended, { until: (x) => x });
        expect(c.received()).toHaveLength(0);
      }
      expect(d.refusals.map((r) => r.reason)).toEqual(["rate", "rate"]);
      expect(d.logs.filter((l) => l.includes("over its source's limits"))).toHaveLength(1);
      expect(await metric(d.registry, 'lucid_rdp_door_refused_total{reason="rate"}')).toBe(
        'lucid_rdp_door_refused_total{reason="rate"} 2',
      );
      now += 1_000; // one token back
      const again = await dial(d.port);
      again.socket.write(requestWith("tok"));
      await waitFor("the refilled source relayed", () => up.sockets.length, {
        until: (n) => n === 1,
      });
      expect(d.refusals).toHaveLength(2);
    });

    it("caps connections still sending their first packet, per source and overall", async () => {
      const up = await fakeXrdp();
      const d = await startDoor(() => route(up.port), {
        limits: { maxPendingPerSource: 2, maxPending: 3 },
      });
      const a = [await dial(d.port, "127.0.0.1"), await dial(d.port, "127.0.0.1")];
      await waitFor("two pending", () => d.accepted.length, { until: (n) => n === 2 });
      const thirdOfA = await dial(d.port, "127.0.0.1");
      await waitFor("A's third cut", () => thirdOfA.state.ended, { until: (x) => x });
      const b = await dial(d.port, "127.0.0.2");
      const fourth = await dial(d.port, "127.0.0.3");
      await waitFor("the fourth pending overall cut", () => fourth.state.ended, {
        until: (x) => x,
      });
      expect(b.state.ended).toBe(false);
      expect(a.every((c) => !c.state.ended)).toBe(true);
      expect(d.refusals.map((r) => [r.reason, r.peer.address])).toEqual([
        ["rate", "127.0.0.1"],
        ["rate", "127.0.0.3"],
      ]);
      // A first packet read frees its slot.
      a[0]?.socket.write(requestWith("tok"));
      await waitFor("relayed", () => up.sockets.length, { until: (n) => n === 1 });
      const later = await dial(d.port, "127.0.0.1");
      later.socket.write(requestWith("tok"));
      await waitFor("the freed slot used", () => up.sockets.length, { until: (n) => n === 2 });
    });
  });

  describe("close()", () => {
    it("destroys the relays and refuses new connections", async () => {
      const up = await fakeXrdp();
      const d = await startDoor(() => route(up.port));
      const client = await dial(d.port);
      client.socket.write(requestWith("tok"));
      await waitFor("the relay", () => d.door.connections().length, { until: (n) => n === 1 });
      await d.door.close();
      await waitFor("the client cut", () => client.state.ended, { until: (x) => x });
      expect(d.door.connections()).toEqual([]);
      const late = await dial(d.port);
      await waitFor("a late client cut", () => late.state.ended, { until: (x) => x });
      expect(late.received()).toHaveLength(0);
    });
  });
});
