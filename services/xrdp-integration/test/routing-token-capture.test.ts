/**
 * What the RDP front door will relay (docs/rdp-front-door.md), checked against the real programs:
 * the exact first packet xfreerdp (Debian 12: 2.11.7) sends with `/load-balance-info:<token>`,
 * captured by a plain TCP listener, must equal the fixtures the unit tests use
 * (src/domain/x224-test-fixtures.ts); and real xrdp (Debian 12: 0.9.21) must answer those bytes,
 * as sent and with the token stripped, with a Connection Confirm selecting TLS. A request with an
 * inconsistent length gets no Confirm (a Disconnect Provider Ultimatum instead), which shows the
 * replay can tell the two apart. And xfreerdp, refused the way the door will refuse (a Confirm with
 * RDP_NEG_FAILURE), retries with weaker security twice, token and all, then gives up.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, connect as tcpConnect } from "node:net";
import { closeServer, portOf, rdpTools, skipOrFail, startXvfb } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeNegotiationFailure,
  negotiationFailureCode,
  parseConnectionRequest,
  withoutRoutingToken,
} from "../src/domain/x224-connection-request.js";
import {
  capturedWithCookie,
  capturedWithToken,
  capturedWithTokenNoC,
  tokenWithC,
  tokenWithoutC,
} from "../src/domain/x224-test-fixtures.js";
import { parseConnectionConfirm, probeUntilReady } from "../src/host/rdp-probe.js";
import { installXrdp, startTlsXrdp, type TlsXrdp } from "./support/tls-xrdp.js";

/** The client's Xvfb: clear of the other tests' (:93 to :96). */
const clientDisplay = 91;
/** Longer than either program needs on a loaded machine; the tests wait for events, not time. */
const generousMs = 20_000;

describe("xfreerdp's first packet with /load-balance-info:", () => {
  let stopXvfb: (() => void) | undefined;

  beforeAll(async () => {
    if (rdpTools.xfreerdp === undefined || rdpTools.xvfb === undefined) return;
    stopXvfb = await startXvfb(clientDisplay);
  });

  afterAll(() => stopXvfb?.());

  it("is the raw token and CR LF before RDP_NEG_REQ, byte for byte the fixtures", {
    timeout: 120_000,
  }, async (ctx) => {
    needClient(ctx);
    const first = async (extra: string[]) => {
      const [packet] = await runClient(extra, "hang up");
      return packet?.toString("hex");
    };
    expect(await first([`/load-balance-info:${tokenWithC}`])).toBe(capturedWithToken);
    expect(await first([`/load-balance-info:${tokenWithoutC}`])).toBe(capturedWithTokenNoC);
    expect(await first([])).toBe(capturedWithCookie);
  });

  it("comes twice more, token and all, after the door's negotiation failure, then the client gives up", {
    timeout: 120_000,
  }, async (ctx) => {
    needClient(ctx);
    // FreeRDP falls back from TLS | HYBRID to TLS to Standard RDP Security (an RDP_NEG_REQ of 0
    // after SSL_CERT_NOT_ON_SERVER): three connections per refused client, each with the token.
    const packets = await runClient([`/load-balance-info:${tokenWithC}`], "refuse");
    const requests = packets.map((packet) => {
      const parsed = parseConnectionRequest(packet);
      if (parsed.kind !== "parsed") throw new Error(`not a Connection Request: ${parsed.kind}`);
      return parsed.request;
    });
    expect(requests.map((r) => r.routingToken)).toEqual([tokenWithC, tokenWithC, tokenWithC]);
    expect(requests.map((r) => r.requestedProtocols)).toEqual([3, 1, 0]);
    // With /sec:tls it asks once.
    const tlsOnly = await runClient([`/load-balance-info:${tokenWithC}`, "/sec:tls"], "refuse");
    expect(tlsOnly).toHaveLength(1);
  });

  function needClient(ctx: Parameters<typeof skipOrFail>[0]): void {
    if (stopXvfb === undefined) {
      skipOrFail(ctx, "xfreerdp or Xvfb missing: apt-get install -y freerdp2-x11 xvfb");
    }
  }

  /**
   * Runs xfreerdp against a plain listener and returns the first packet of each connection it
   * made. "hang up": the listener closes the first connection at once and the client is killed.
   * "refuse": each connection gets the door's refusal (a Confirm with SSL_CERT_NOT_ON_SERVER),
   * and the client runs until it gives up by itself.
   */
  async function runClient(extra: string[], mode: "hang up" | "refuse"): Promise<Buffer[]> {
    const packets: Buffer[] = [];
    let gotFirst!: () => void;
    const first = new Promise<void>((resolve) => {
      gotFirst = resolve;
    });
    const server = createServer((socket) => {
      socket.on("error", () => {});
      let got = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < 4 || got.length < got.readUInt16BE(2)) return;
        packets.push(got);
        gotFirst();
        if (mode === "hang up") socket.destroy();
        else socket.end(encodeNegotiationFailure(negotiationFailureCode.sslCertNotOnServer));
        socket.removeAllListeners("data");
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const client = spawn(
      rdpTools.xfreerdp as string,
      [`/v:127.0.0.1:${portOf(server)}`, "/u:x", "/p:y", "/cert:ignore", "/auth-only", ...extra],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          DISPLAY: `:${clientDisplay}`,
          HOME: "/tmp",
        },
        stdio: "ignore",
        detached: true, // its own group, killed as a whole below
      },
    );
    const exited = once(client, "exit");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`xfreerdp still running after ${generousMs} ms`)),
        generousMs,
      );
    });
    try {
      await Promise.race([mode === "hang up" ? first : exited, late]);
      return packets;
    } finally {
      clearTimeout(timer);
      if (client.exitCode === null && client.signalCode === null) {
        process.kill(-(client.pid as number), "SIGKILL");
      }
      await exited;
      await closeServer(server);
    }
  }
});

describe("real xrdp 0.9.21 (security_layer=tls) given those bytes", () => {
  let xrdp: TlsXrdp | undefined;
  let port = 0;

  beforeAll(async () => {
    xrdp = await startTlsXrdp("xrdp-token-");
    if (xrdp === undefined) return;
    port = xrdp.port;
    const ready = await probeUntilReady("127.0.0.1", port, {
      deadlineMs: generousMs,
      intervalMs: 100,
    });
    if (!ready.ok) throw new Error(`xrdp not ready: ${ready.reason}\n${xrdp.output()}`);
  });

  afterAll(async () => {
    await xrdp?.stop();
  });

  function started(ctx: Parameters<typeof skipOrFail>[0]): void {
    if (xrdp === undefined)
      skipOrFail(ctx, `xrdp, openssl or /etc/xrdp/xrdp.ini missing: ${installXrdp}`);
  }

  it("confirms TLS for the request as xfreerdp sent it, token and all", {
    timeout: 120_000,
  }, async (ctx) => {
    started(ctx);
    for (const captured of [capturedWithToken, capturedWithTokenNoC, capturedWithCookie]) {
      const confirm = await exchange(port, Buffer.from(captured, "hex"));
      expect(confirm && parseConnectionConfirm(confirm), captured).toEqual({
        ok: true,
        selectedProtocol: "tls",
      });
    }
  });

  it("confirms TLS for the request with the token stripped, and for the spec's Cookie: msts= form", {
    timeout: 120_000,
  }, async (ctx) => {
    started(ctx);
    for (const captured of [capturedWithToken, capturedWithTokenNoC]) {
      const parsed = parseConnectionRequest(Buffer.from(captured, "hex"));
      if (parsed.kind !== "parsed") throw new Error(`fixture does not parse: ${parsed.kind}`);
      const confirm = await exchange(port, withoutRoutingToken(parsed.request));
      expect(confirm && parseConnectionConfirm(confirm)).toEqual({
        ok: true,
        selectedProtocol: "tls",
      });
    }
    const msts = Buffer.from(`Cookie: msts=${tokenWithC}\r\n`, "latin1");
    const request = Buffer.concat([
      Buffer.from([3, 0, 0, 0, 6 + msts.length + 8, 0xe0, 0, 0, 0, 0, 0]),
      msts,
      Buffer.from("0100080003000000", "hex"),
    ]);
    request.writeUInt16BE(request.length, 2);
    expect(parseConnectionRequest(request)).toMatchObject({ kind: "parsed" });
    const confirm = await exchange(port, request);
    expect(confirm && parseConnectionConfirm(confirm)).toEqual({
      ok: true,
      selectedProtocol: "tls",
    });
  });

  it("sends no Confirm for a request whose X.224 length disagrees with its TPKT length", {
    timeout: 120_000,
  }, async (ctx) => {
    started(ctx);
    const bad = Buffer.from(capturedWithToken, "hex");
    bad[4] = (bad[4] as number) - 2; // LI two short: what a careless strip that forgot the LI sends
    // 0.9.21 answers with an MCS Disconnect Provider Ultimatum in an X.224 Data TPDU
    // (hex 03000009 02f080 2180) and closes: anything but a Connection Confirm.
    const reply = await exchange(port, bad);
    expect(reply === undefined || reply[5] !== 0xd0, reply?.toString("hex")).toBe(true);
  });
});

/**
 * Sends `request` to 127.0.0.1:`port` and resolves with the server's first TPKT, or undefined
 * when the server closes the connection without one. Hangs up either way.
 */
function exchange(port: number, request: Uint8Array): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`neither a Confirm nor a close within ${generousMs} ms`));
    }, generousMs);
    const done = (value: Buffer | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4 && got.length >= got.readUInt16BE(2))
        done(got.subarray(0, got.readUInt16BE(2)));
    });
    socket.on("close", () => done(undefined));
    socket.on("error", () => {});
  });
}
