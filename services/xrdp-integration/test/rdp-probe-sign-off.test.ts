/**
 * probeRdp()'s sign-off after a Confirm selecting TLS, against a scripted xrdp 0.9 that speaks TLS
 * with a certificate openssl makes (a child process). The parsing and the fake-server tests stay
 * beside the code (src/host/rdp-probe.test.ts); test/rdp-probe.test.ts runs the real xrdp.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { closeServer, findTool, portOf, skipOrFail } from "@lucid-rdp/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { probeRdp } from "../src/host/rdp-probe.js";
import { u16be, u16le } from "../src/host/wire-bytes.js";

const run = promisify(execFile);

/** What xrdp 0.9.21 answers with security_layer=tls: a Confirm with RDP_NEG_RSP selecting TLS. */
const xrdpConfirm = Buffer.from("030000130ed000001234000201080001000000", "hex");
const requestHex = "030000130ee000000000000100080003000000";
/**
 * A probe timeout longer than any test's own (30 s): a probe that should answer or hang up at once
 * but waited for its timeout instead fails its test, whatever the machine's speed.
 */
const neverMs = 600_000;

describe("probeRdp() sign-off after a Confirm selecting TLS", () => {
  const install = "apt-get install -y openssl";
  let tlsContext: SecureContext | undefined;
  const servers: Server[] = [];

  beforeAll(async () => {
    const openssl = findTool("openssl", install);
    if (openssl === undefined) return;
    const dir = await mkdtemp(join(tmpdir(), "rdp-probe-"));
    try {
      const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
      await run(openssl, [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        ...["-nodes", "-days", "1", "-subj", "/CN=test", "-keyout", key, "-out", cert],
      ]);
      tlsContext = createSecureContext({ key: await readFile(key), cert: await readFile(cert) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
  });

  /** The TLS context, or undefined after reporting the test skipped for want of openssl. */
  function context(ctx: { task: { name: string }; skip: () => void }): SecureContext | undefined {
    if (tlsContext === undefined)
      skipOrFail(ctx, `openssl is missing; install it with: ${install}`);
    return tlsContext;
  }

  /**
   * A scripted xrdp 0.9 with security_layer=tls: it answers each client PDU of the connection
   * sequence as xrdp does and records the PDU, and on Escape sends its Disconnect Provider
   * Ultimatum and closes. With `after`, it answers the PDU so named with `reply` instead.
   */
  async function fakeXrdp(
    secureContext: SecureContext,
    deviation?: { after: string; reply: (tls: TLSSocket) => void },
  ) {
    const steps: string[] = [];
    const seen: Array<() => void> = [];
    let closed!: Promise<unknown>;
    const server = createServer((socket) => {
      closed ??= once(socket, "close");
      socket.on("error", () => {});
      socket.once("data", (request: Buffer) => {
        steps.push(request.toString("hex") === requestHex ? "request" : "other request");
        socket.write(xrdpConfirm);
        const tls = new TLSSocket(socket, { isServer: true, secureContext });
        tls.on("error", () => {});
        tls.on("end", () => steps.push("client closed"));
        let buffered = Buffer.alloc(0);
        tls.on("data", (chunk: Buffer) => {
          buffered = Buffer.concat([buffered, chunk]);
          while (buffered.length >= 4 && buffered.length >= buffered.readUInt16BE(2)) {
            const pdu = buffered.subarray(0, buffered.readUInt16BE(2));
            buffered = buffered.subarray(pdu.length);
            const step = nameOf(pdu.subarray(7), steps.includes("license reply"));
            steps.push(step);
            for (const wake of seen.splice(0)) wake();
            if (deviation?.after === step) deviation.reply(tls);
            else answer(tls, step);
          }
        });
      });
    });
    servers.push(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return {
      port: portOf(server),
      steps,
      closed: () => closed,
      /** Resolves once the client has sent the PDU so named. */
      saw: async (step: string) => {
        while (!steps.includes(step)) await new Promise<void>((wake) => seen.push(wake));
      },
    };
  }

  it("connects to the login screen, presses Escape and waits for xrdp to close", async (ctx) => {
    const secureContext = context(ctx);
    if (secureContext === undefined) return;
    const xrdp = await fakeXrdp(secureContext);
    const result = await probeRdp("127.0.0.1", xrdp.port, { timeoutMs: neverMs });
    expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
    await xrdp.closed();
    expect(xrdp.steps).toEqual([
      "request",
      "connect initial lucid-probe",
      "erect domain",
      "attach user",
      "join 1008",
      "join 1003",
      "join 1004",
      "client info",
      "license reply",
      "confirm active",
      "synchronize",
      "control 4",
      "control 1",
      "font list",
      "escape down, escape up",
      "client closed",
    ]);
  });

  it("hangs up at once on a server that breaks the sequence, and reports the Confirm", async (ctx) => {
    const secureContext = context(ctx);
    if (secureContext === undefined) return;
    const xrdp = await fakeXrdp(secureContext, {
      after: "attach user",
      reply: (tls) => tls.write(Buffer.from("ffffffff", "hex")),
    });
    const result = await probeRdp("127.0.0.1", xrdp.port, { timeoutMs: neverMs });
    expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
    await xrdp.closed();
  });

  it("hangs up on a server that sends more than 2 MiB, and reports the Confirm", async (ctx) => {
    const secureContext = context(ctx);
    if (secureContext === undefined) return;
    // Fast-path PDUs of the largest size, which a client waiting for the Font Map skips: endless.
    const pdu = Buffer.alloc(0x7fff);
    pdu.writeUInt16BE(0x8000 | pdu.length, 1);
    const xrdp = await fakeXrdp(secureContext, {
      after: "font list",
      reply: (tls) => {
        let sent = 0;
        const pump = () => {
          while (!tls.destroyed && sent < 16 * 1024 * 1024) {
            sent += pdu.length;
            if (!tls.write(pdu)) {
              tls.once("drain", pump);
              return;
            }
          }
        };
        pump();
      },
    });
    const result = await probeRdp("127.0.0.1", xrdp.port, { timeoutMs: neverMs });
    expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
    await xrdp.closed();
  });

  it("reports the Confirm when the server stalls, and hangs up within the timeout", async (ctx) => {
    const secureContext = context(ctx);
    if (secureContext === undefined) return;
    const xrdp = await fakeXrdp(secureContext, { after: "client info", reply: () => {} });
    const started = performance.now();
    const result = await probeRdp("127.0.0.1", xrdp.port, { timeoutMs: 400 });
    expect(result).toEqual({ ok: true, selectedProtocol: "tls" });
    await xrdp.closed();
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
  });

  it("rejects with the signal's reason when aborted during the sign-off", async (ctx) => {
    const secureContext = context(ctx);
    if (secureContext === undefined) return;
    const xrdp = await fakeXrdp(secureContext, { after: "client info", reply: () => {} });
    const controller = new AbortController();
    const probe = probeRdp("127.0.0.1", xrdp.port, { timeoutMs: 5000, signal: controller.signal });
    await xrdp.saw("client info");
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(probe).rejects.toBe(reason);
    await xrdp.closed();
  });
});

/** Names a client PDU by its X.224 Data payload, the way the tests above list them. */
function nameOf(payload: Buffer, licensed: boolean): string {
  if (payload[0] === 0x7f && payload[1] === 0x65) {
    const name = payload.indexOf(Buffer.from("lucid-probe", "utf16le")) >= 0 ? "lucid-probe" : "?";
    return `connect initial ${name}`;
  }
  const choice = (payload[0] ?? 0) >> 2;
  if (choice === 1) return "erect domain";
  if (choice === 10) return "attach user";
  if (choice === 14) return `join ${payload.readUInt16BE(3)}`;
  if (choice !== 25 || payload.readUInt16BE(3) !== 1003) return `MCS ${choice}`;
  const data = payload.subarray(8); // Send Data Request to the I/O channel, two-octet length
  if (!licensed) {
    const flags = data.readUInt16LE(0);
    return flags === 0x40 ? "client info" : flags === 0x80 ? "license reply" : `flags ${flags}`;
  }
  const type = data.readUInt16LE(2) & 0xf;
  if (type === 3) return "confirm active";
  if (type !== 7) return `PDU type ${type}`;
  switch (data[14]) {
    case 0x1f:
      return "synchronize";
    case 0x14:
      return `control ${data.readUInt16LE(18)}`;
    case 0x27:
      return "font list";
    case 0x1c: {
      const keys: string[] = [];
      for (let i = 0, at = 22; i < data.readUInt16LE(18); i++, at += 12) {
        const key = data.readUInt16LE(at + 8) === 1 ? "escape" : `key ${data.readUInt16LE(at + 8)}`;
        keys.push(`${key} ${data.readUInt16LE(at + 6) & 0x8000 ? "up" : "down"}`);
      }
      return keys.join(", ");
    }
    default:
      return `data PDU ${data[14]}`;
  }
}

/** What the scripted xrdp answers to the client PDU named `step`. */
function answer(tls: TLSSocket, step: string): void {
  const x224 = (...parts: Buffer[]) => {
    const payload = Buffer.concat([Buffer.from("02f080", "hex"), ...parts]);
    const tpkt = Buffer.from([3, 0, 0, 0]);
    tpkt.writeUInt16BE(payload.length + 4, 2);
    return Buffer.concat([tpkt, payload]);
  };
  const hex = (text: string) => Buffer.from(text.replaceAll(" ", ""), "hex");
  /** Send Data Indication from the server channel (initiator 1) on the I/O channel 1003. */
  const io = (data: Buffer) => x224(hex("68 0001 03eb 70"), u16be(0x8000 | data.length), data);
  const shareData = (type2: number, body: Buffer) =>
    io(
      Buffer.concat([
        u16le(18 + body.length),
        hex("1700 ea03 ea030100 00 01"),
        u16le(body.length),
        Buffer.of(type2, 0, 0, 0),
        body,
      ]),
    );
  switch (step) {
    case "connect initial lucid-probe": {
      const core = hex("010c 0c00 04000800 03000000"); // SC_CORE: version, requested protocols
      const net = hex("030c 0c00 eb03 0100 ec03 0000"); // SC_NET: I/O channel, 1 channel: 1004
      const userData = Buffer.concat([core, net]);
      const gcc = Buffer.concat([
        hex("000500147c00012a14760a01010001c0004d63446e"),
        u16be(0x8000 | userData.length),
        userData,
      ]);
      const body = Buffer.concat([hex("0a0100 020100 3000 04"), Buffer.of(gcc.length), gcc]);
      tls.write(x224(hex("7f66"), Buffer.of(body.length), body));
      return;
    }
    case "attach user":
      tls.write(x224(hex("2e00 0007")));
      return;
    case "client info": // xrdp 0.9 asks for a license first
      tls.write(io(hex("8000 0000 01 02 0800 00000000")));
      return;
    case "license reply":
      tls.write(io(hex("8000 0000 ff 02 1000 07000000 02000000 0400 0000"))); // STATUS_VALID_CLIENT
      tls.write(
        io(
          Buffer.concat([
            hex("1a00 1100 ea03 ea030100 0400 0400"),
            hex("52445000 0000 0000 00000000"),
          ]),
        ),
      );
      return;
    case "font list":
      tls.write(shareData(0x1f, hex("0100 ea03"))); // noise a client skips: synchronize,
      tls.write(hex("0006 00000000")); // a fast-path PDU,
      tls.write(x224(hex("68 0001 03ec 70 02 0000"))); // data on another channel
      tls.write(shareData(0x28, hex("0000 0000 0300 0400"))); // Font Map
      return;
    case "escape down, escape up":
      tls.write(shareData(0x02, hex("0300 0000"))); // an update while the login window goes
      tls.end(x224(hex("2180"))); // Disconnect Provider Ultimatum
      return;
    default:
      if (step.startsWith("join ")) {
        const channel = u16be(Number(step.slice(5)));
        tls.write(x224(hex("3e00 0007"), channel, channel));
      }
  }
}
