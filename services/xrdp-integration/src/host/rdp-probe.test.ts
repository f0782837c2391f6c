/**
 * The probe against fake servers. The sign-off after a TLS Confirm runs against a scripted xrdp in
 * test/rdp-probe-sign-off.test.ts (it needs openssl) and against the real one in
 * test/rdp-probe.test.ts, which reads its log.
 */
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { closeServer, freePort, portOf } from "@lucid-rdp/testing";
import { afterEach, describe, expect, it } from "vitest";
import { parseConnectionRequest } from "../domain/x224-connection-request.js";
import {
  capturedWithToken,
  capturedWithTokenNoC,
  tokenWithC,
  tokenWithoutC,
} from "../domain/x224-test-fixtures.js";
import {
  buildConnectionRequest,
  maxRoutingTokenLength,
  parseConnectionConfirm,
  probeRdp,
  probeUntilReady,
} from "./rdp-probe.js";

/** What xrdp 0.9.21 answers with security_layer=tls: a Confirm with RDP_NEG_RSP selecting TLS. */
const xrdpConfirm = Buffer.from("030000130ed000001234000201080001000000", "hex");
/** xrdp's answer with security_layer=rdp: RDP_NEG_RSP selecting Standard RDP Security. */
const rdpConfirm = Buffer.from("030000130ed000001234000201080000000000", "hex");
const requestHex = "030000130ee000000000000100080003000000";
/**
 * A probe timeout longer than any test's own (30 s): a probe that should answer or hang up at once
 * but waited for its timeout instead fails its test, whatever the machine's speed.
 */
const neverMs = 600_000;

describe("buildConnectionRequest()", () => {
  it("writes TPKT + X.224 CR + RDP_NEG_REQ asking for TLS | HYBRID", () => {
    expect(buildConnectionRequest().toString("hex")).toBe(requestHex);
    expect(buildConnectionRequest(0x0b).subarray(15).toString("hex")).toBe("0b000000");
  });

  it("writes a routing token exactly as xfreerdp's /load-balance-info: does: raw, CR LF, then RDP_NEG_REQ", () => {
    expect(buildConnectionRequest(3, tokenWithC).toString("hex")).toBe(capturedWithToken);
    expect(buildConnectionRequest(3, tokenWithoutC).toString("hex")).toBe(capturedWithTokenNoC);
  });

  it("writes requests whose token the front door's parser reads back, up to the longest token", () => {
    const door = `lr1-${"A".repeat(32)}`;
    for (const token of [door, "x", "t".repeat(maxRoutingTokenLength)]) {
      const r = parseConnectionRequest(buildConnectionRequest(1, token));
      expect(r.kind, token).toBe("parsed");
      if (r.kind !== "parsed") continue;
      expect(r.request).toMatchObject({
        routingToken: token,
        cookie: undefined,
        requestedProtocols: 1,
      });
      expect(r.request.rest.length).toBe(0);
    }
  });

  it("refuses a token it cannot send, with a RangeError", () => {
    const bad = ["", "t".repeat(maxRoutingTokenLength + 1), "a\r\nb", "tab\there", "caf\u00e9"];
    for (const token of bad) {
      expect(() => buildConnectionRequest(3, token), JSON.stringify(token)).toThrow(RangeError);
    }
  });
});

describe("parseConnectionConfirm()", () => {
  const confirm = (hex: string) => parseConnectionConfirm(Buffer.from(hex, "hex"));

  it("reports the protocol of an RDP_NEG_RSP", () => {
    expect(parseConnectionConfirm(xrdpConfirm)).toEqual({ ok: true, selectedProtocol: "tls" });
    expect(confirm("030000130ed000000000000201080002000000")).toEqual({
      ok: true,
      selectedProtocol: "hybrid",
    });
    expect(confirm("030000130ed000000000000200080010000000")).toEqual({
      ok: true,
      selectedProtocol: 16,
    });
  });

  it("takes a Confirm without negotiation data as Standard RDP Security", () => {
    expect(confirm("0300000b06d00000123400")).toEqual({ ok: true, selectedProtocol: "rdp" });
  });

  it("fails on RDP_NEG_FAILURE, naming the code", () => {
    expect(confirm("030000130ed000000000000300080002000000")).toEqual({
      ok: false,
      reason: "negotiation failure 2 (SSL_NOT_ALLOWED_BY_SERVER)",
    });
  });

  it("fails on malformed packets", () => {
    const bad = [
      "040000130ed000001234000201080001000000", // TPKT version 4
      "030000140ed000001234000201080001000000", // TPKT length 20 for 19 bytes
      "030000130dd000001234000201080001000000", // LI 13 for a 19-byte TPKT
      "030000130ee000001234000201080001000000", // a Connection Request, not a Confirm
      "030000130ed000001234000201090001000000", // negotiation length 9
      "030000130ed000001234000401080001000000", // negotiation type 4
      "030000120dd0000012340002010800010000", // 7-byte variable part
      "03000007", // shorter than any Confirm
    ];
    for (const hex of bad) expect(confirm(hex).ok, hex).toBe(false);
  });
});

/** Fake servers: each connection's handler gets the socket and the request bytes it received. */
describe("probeRdp()", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
  });

  /**
   * Serves `answer` to each connection once the whole request (the TPKT its length field covers)
   * has arrived. Resolves the port and a promise of the first server-side socket's close, to prove
   * the probe hung up.
   */
  async function serve(answer: (socket: Socket) => unknown) {
    let closed!: Promise<unknown>;
    let requests = "";
    const server = createServer((socket) => {
      closed ??= once(socket, "close");
      let got = Buffer.alloc(0);
      socket.on("error", () => {});
      socket.on("data", (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 4 && got.length === got.readUInt16BE(2)) {
          requests += got.toString("hex");
          void answer(socket);
        }
      });
    });
    servers.push(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return { port: portOf(server), closed: () => closed, requests: () => requests };
  }

  it("accepts a Confirm selecting Standard RDP Security and hangs up at once", async () => {
    const s = await serve((socket) => socket.write(rdpConfirm));
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: neverMs });
    expect(result).toEqual({ ok: true, selectedProtocol: "rdp" });
    expect(s.requests()).toBe(requestHex);
    await s.closed();
  });

  it("accepts a Confirm selecting TLS from a server that then hangs up", async () => {
    const s = await serve((socket) => socket.end(xrdpConfirm));
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: neverMs });
    expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
  });

  it("sends the routing token it is given in its Connection Request", async () => {
    const token = "lr1-0123456789abcdefghijklmnopqrstuv";
    const s = await serve((socket) => socket.write(rdpConfirm));
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: neverMs, routingToken: token });
    expect(result).toEqual({ ok: true, selectedProtocol: "rdp" });
    const sent = parseConnectionRequest(Buffer.from(s.requests(), "hex"));
    expect(sent).toMatchObject({
      kind: "parsed",
      request: { routingToken: token, requestedProtocols: 3 },
    });
  });

  it("rejects a routing token it cannot send, connecting nowhere", async () => {
    const s = await serve((socket) => socket.write(rdpConfirm));
    await expect(
      probeRdp("127.0.0.1", s.port, { timeoutMs: neverMs, routingToken: "a\r\nb" }),
    ).rejects.toThrow(RangeError);
    expect(s.requests()).toBe("");
  });

  it("tells onConfirm of the Confirm once, before it resolves", async () => {
    const s = await serve((socket) => socket.end(xrdpConfirm));
    const heard: unknown[] = [];
    let resolved = false;
    const probe = probeRdp("127.0.0.1", s.port, {
      timeoutMs: neverMs,
      onConfirm: (r) => heard.push({ ...r, resolvedBefore: resolved }),
    }).then((r) => {
      resolved = true;
      return r;
    });
    expect(await probe).toEqual({ ok: true, selectedProtocol: "tls" });
    expect(heard).toEqual([{ ok: true, selectedProtocol: "tls", resolvedBefore: false }]);
  });

  it("does not call onConfirm for a negotiation failure", async () => {
    const failure = Buffer.from("030000130ed000000000000300080002000000", "hex");
    const s = await serve((socket) => socket.end(failure));
    const heard: unknown[] = [];
    const result = await probeRdp("127.0.0.1", s.port, {
      timeoutMs: neverMs,
      onConfirm: (r) => heard.push(r),
    });
    expect(result.ok).toBe(false);
    expect(heard).toEqual([]);
  });

  it("reassembles a Confirm sent one byte at a time", async () => {
    const s = await serve(async (socket) => {
      socket.setNoDelay(true);
      for (const byte of xrdpConfirm) {
        socket.write(Buffer.of(byte));
        await sleep(5);
      }
      socket.end();
    });
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: neverMs });
    expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
  });

  it("does not sign off from a server that sends more than its Confirm, and hangs up", async () => {
    const s = await serve((socket) => socket.write(Buffer.concat([xrdpConfirm, Buffer.of(3)])));
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: neverMs });
    expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
    await s.closed();
  });

  it("fails on a server that answers garbage", async () => {
    const s = await serve((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: 2000 });
    expect(result).toEqual({ ok: false, reason: "not a TPKT: first byte 0x48" });
    await s.closed();
  });

  it("fails within the timeout on a server that stays silent, and hangs up", async () => {
    const s = await serve(() => {});
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: 300 });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(/no Connection Confirm within 300 ms/);
    await s.closed();
  });

  it("fails quickly on a closed port", async () => {
    const port = await freePort();
    const result = await probeRdp("127.0.0.1", port, { timeoutMs: neverMs });
    expect(result).toEqual({
      ok: false,
      reason: `connection to 127.0.0.1:${port} failed: ECONNREFUSED`,
    });
  });

  it("fails at once on a TPKT length no Confirm can have, without reading on", async () => {
    const s = await serve((socket) => socket.write(Buffer.from("0300ffff0ed0", "hex")));
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: neverMs });
    expect(result).toEqual({
      ok: false,
      reason: "TPKT length 65535 impossible for a Connection Confirm",
    });
    await s.closed();
  });

  it("fails on a TPKT length inconsistent with the X.224 length indicator", async () => {
    const s = await serve((socket) =>
      socket.write(Buffer.from("030000130cd000001234000201080001000000", "hex")),
    );
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: 2000 });
    expect(result.ok ? "" : result.reason).toMatch(/length indicator 12 inconsistent/);
  });

  it("fails when the server hangs up in the middle of the Confirm", async () => {
    const s = await serve((socket) => socket.end(xrdpConfirm.subarray(0, 10)));
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: 2000 });
    expect(result).toEqual({
      ok: false,
      reason: "connection closed after 10 bytes, before a Connection Confirm",
    });
  });

  it("fails on an RDP_NEG_FAILURE: an RDP stack that cannot serve TLS clients", async () => {
    const s = await serve((socket) =>
      socket.write(Buffer.from("030000130ed000000000000300080002000000", "hex")),
    );
    const result = await probeRdp("127.0.0.1", s.port, { timeoutMs: 2000 });
    expect(result).toEqual({
      ok: false,
      reason: "negotiation failure 2 (SSL_NOT_ALLOWED_BY_SERVER)",
    });
  });

  it("rejects with the signal's reason on abort, and hangs up", async () => {
    const s = await serve(() => {});
    const controller = new AbortController();
    const probe = probeRdp("127.0.0.1", s.port, { timeoutMs: 5000, signal: controller.signal });
    await sleep(50);
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(probe).rejects.toBe(reason);
    await s.closed();
    await expect(
      probeRdp("127.0.0.1", s.port, { timeoutMs: 5000, signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
  });
});

describe("probeUntilReady()", () => {
  it("gives up at the deadline with the last reason", async () => {
    const port = await freePort();
    const result = await probeUntilReady("127.0.0.1", port, { deadlineMs: 400, intervalMs: 50 });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(
      /^not ready within 400 ms after \d+ probe\(s\); last: .*ECONNREFUSED$/,
    );
  });

  it("succeeds once a server starts answering", async () => {
    const port = await freePort();
    const server = createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => socket.end(xrdpConfirm));
    });
    const late = sleep(300).then(() => server.listen(port, "127.0.0.1"));
    try {
      const result = await probeUntilReady("127.0.0.1", port, { deadlineMs: 5000, intervalMs: 50 });
      expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
    } finally {
      await late;
      await closeServer(server);
    }
  });

  it("rejects with the signal's reason when aborted between probes", async () => {
    const port = await freePort();
    const controller = new AbortController();
    const polling = probeUntilReady("127.0.0.1", port, {
      deadlineMs: 10_000,
      intervalMs: 100,
      signal: controller.signal,
    });
    await sleep(150);
    controller.abort(new Error("stop"));
    await expect(polling).rejects.toThrow("stop");
  });
});
