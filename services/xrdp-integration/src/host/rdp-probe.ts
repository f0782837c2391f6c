/**
 * Readiness and health probe for an RDP server. It sends a Connection Request carrying an RDP
 * Negotiation Request (MS-RDPBCGR 2.2.1.1) and accepts only a well-formed Connection Confirm
 * (2.2.1.2): that Confirm alone decides the result. A port that merely accepts TCP connections is
 * not ready: xrdp listens before it can serve, and anything else on the port must not pass for an
 * RDP server.
 *
 * Wire layout of the request and the Confirm, each one TPKT (RFC 1006) of 19 bytes:
 *
 * ```
 * TPKT header        version=3 | reserved=0 | length (u16 big-endian, whole packet)
 * X.224 CR / CC TPDU LI | code (0xE0 CR, 0xD0 CC) | DST-REF (u16) | SRC-REF (u16) | class option
 * RDP_NEG_*          type | flags | length=8 (u16 little-endian) | value (u32 little-endian)
 * ```
 *
 * ## Leaving quietly: the sign-off
 *
 * xrdp (0.9.21 and 0.10.1 alike) logs at ERROR every connection that ends before it is fully
 * connected: one that ends anywhere before the MCS connection sequence is complete makes
 * `xrdp_process_main_loop: libxrdp_process_incoming failed` and the errors that led to it; one
 * that ends after it but before the client is "up and running" makes `libxrdp_force_read: header
 * read error` and two more; and whenever the client is the one to end it, xrdp's goodbye fails
 * too (`Sending [ITU T.125] DisconnectProviderUltimatum failed`), because xrdp writes it after it
 * has seen the end of the stream. ERROR lines per probe, measured with security_layer=tls on
 * 0.9.21 and on 0.10.1 (the same counts, but where marked):
 *
 * | how the probe ends                                           | ERROR | WARNING |
 * | ------------------------------------------------------------ | ----- | ------- |
 * | TCP connect, close                                           | 7     | 0       |
 * | Confirm, close (this probe's first version)                  | 8     | 0       |
 * | Confirm, half-close (FIN), wait for xrdp to close            | 6     | 0       |
 * | Confirm, X.224 Disconnect Request                            | 6     | 0       |
 * | PROTOCOL_RDP only: Confirm with SSL_REQUIRED_BY_SERVER       | 4     | 0       |
 * | Confirm, TLS handshake, close_notify                         | 8 (10 with TLS 1.2 on 0.9.21) | 0 |
 * | ... and the MCS connection sequence, close_notify            | 5     | 0       |
 * | ... and on to the login screen, close_notify                 | 2     | 1       |
 * | ... and on to the login screen, Escape, wait for xrdp's close | 0    | 1       |
 *
 * xrdp ends a connection quietly only when it ends it itself, as when the user cancels its login
 * screen. So after a Confirm that selects TLS, the probe signs off the way a user who changes their
 * mind does: it completes the TLS handshake and the connection sequence up to the login screen
 * (MS-RDPBCGR 1.3.1.1, with no credentials), presses Escape there (the login window's Cancel
 * key), and waits for xrdp's Disconnect Provider Ultimatum and close. xrdp then logs INFO lines
 * and the one WARNING every client's login screen costs on 0.9.21 and 0.10.1 (`local keymap file
 * for 0x00000409 found and doesn't match built in keymap`: xrdp compares the file with an empty
 * table), and no ERROR line, with TLS 1.2 and 1.3 alike.
 *
 * The sign-off is best effort and never changes the result: a server that stops following it
 * (it is not xrdp, or it shows no login window) is simply hung up on, and the probe resolves
 * with what the Confirm said. It sends no credentials, so it does not check the server's
 * certificate. A Confirm that selects Standard RDP Security (security_layer=rdp) gets no sign-off,
 * as that would need RDP's own RSA and RC4 encryption: xrdp then still logs 6 to 8 ERROR lines
 * per probe.
 *
 * Each probe costs the server one connection: xrdp (fork=true) forks a child per connection, which
 * exits when the connection ends. A sign-off reads about 16 KiB and takes some 50 ms on loopback.
 */

import { once } from "node:events";
import { connect } from "node:net";
import { connect as connectTls, type TLSSocket } from "node:tls";
import {
  hex8,
  negFailureType,
  negotiationFailureNames,
  negRequestType,
  negResponseType,
  tpktHeaderLength,
  tpktVersion,
  x224ConnectionConfirm,
  x224ConnectionRequest,
  x224FixedLength,
} from "../domain/rdp-wire.js";
import { u8, u16be, u16le, u32le } from "./wire-bytes.js";

/** What a probe found out. */
export type ProbeResult =
  | {
      ok: true;
      /**
       * The security protocol the server selected (RDP_NEG_RSP selectedProtocol), by name when
       * MS-RDPBCGR defines one, else the raw number. "rdp" also when the server sent no negotiation
       * response at all (a pre-RDP-5.2 server: Standard RDP Security).
       */
      selectedProtocol: SelectedProtocol;
    }
  | { ok: false; reason: string };

export type SelectedProtocol = "rdp" | "tls" | "hybrid" | "rdstls" | "hybrid_ex" | number;

/** MS-RDPBCGR 2.2.1.1.1 requestedProtocols / 2.2.1.2.1 selectedProtocol flags. */
export const rdpProtocol = {
  /** PROTOCOL_RDP: Standard RDP Security. */
  rdp: 0x0000_0000,
  /** PROTOCOL_SSL: TLS 1.0, 1.1 or 1.2. */
  tls: 0x0000_0001,
  /** PROTOCOL_HYBRID: CredSSP (NLA). */
  hybrid: 0x0000_0002,
  /** PROTOCOL_RDSTLS. */
  rdstls: 0x0000_0004,
  /** PROTOCOL_HYBRID_EX: CredSSP with Early User Authorization Result PDU. */
  hybridEx: 0x0000_0008,
} as const;

const negStructureLength = 8;
/** The shortest Connection Confirm: TPKT header, LI, fixed part, no negotiation structure. */
const minConfirmLength = tpktHeaderLength + 1 + x224FixedLength;
/**
 * The longest TPKT whose X.224 header its LI octet can describe (LI <= 254). A Connection Confirm
 * carries no user data, so a longer TPKT is inconsistent and is rejected as soon as its header
 * arrives instead of being read up to 64 KiB.
 */
const maxConfirmLength = tpktHeaderLength + 1 + 254;
/** Hard cap on bytes read from one connection before the Confirm, whatever the server sends. */
const maxReadBytes = 64 * 1024;
/**
 * Hard cap on bytes read during the sign-off. xrdp's login screen is about 16 KiB at the
 * probe's 1024x768 in 8 bits per pixel; a full screen of uncompressed bitmaps would be 768 KiB.
 */
const maxSignOffBytes = 2 * 1024 * 1024;

/**
 * The longest routing token a Connection Request can carry beside an RDP_NEG_REQ: the X.224 length
 * indicator is one octet (at most 254), of which the fixed part takes 6, the RDP_NEG_REQ 8 and the
 * token's CR LF 2.
 */
export const maxRoutingTokenLength = 254 - x224FixedLength - negStructureLength - 2;

/**
 * Builds the client's first packet: TPKT + X.224 Connection Request + RDP_NEG_REQ
 * (MS-RDPBCGR 2.2.1.1), without cookie, and with `routingToken` when given: the token raw, then
 * CR LF, before the RDP_NEG_REQ, exactly as FreeRDP's `/load-balance-info:` and an .rdp file's
 * `loadbalanceinfo:s:` send it (docs/rdp-front-door.md).
 *
 * @param requestedProtocols RDP_NEG_REQ requestedProtocols flags; TLS | HYBRID by default.
 * @param routingToken printable ASCII (0x20-0x7e), 1 to {@link maxRoutingTokenLength} characters;
 *   anything else throws a RangeError (a caller's mistake, not something a server said).
 */
export function buildConnectionRequest(
  requestedProtocols: number = rdpProtocol.tls | rdpProtocol.hybrid,
  routingToken?: string,
): Buffer {
  const line = routingToken === undefined ? Buffer.alloc(0) : routingTokenLine(routingToken);
  const x224 = Buffer.concat([
    // x224Crq (X.224 section 13.3); LI (length indicator), the octets after itself, goes first
    u8(x224ConnectionRequest), // CR CDT: Connection Request, initial credit 0
    u16be(0), // DST-REF
    u16be(0), // SRC-REF
    u8(0), // class option: class 0, no options
    line, // routingToken (MS-RDPBCGR 2.2.1.1): raw, CR LF
    // rdpNegReq (MS-RDPBCGR 2.2.1.1.1)
    u8(negRequestType, 0), // type: TYPE_RDP_NEG_REQ, flags
    u16le(negStructureLength),
    u32le(requestedProtocols),
  ]);
  return tpkt(Buffer.concat([u8(x224.length), x224]));
}

/** The routing token's line: the token's bytes and CR LF; throws a RangeError for a bad token. */
function routingTokenLine(token: string): Buffer {
  if (token.length === 0 || token.length > maxRoutingTokenLength) {
    throw new RangeError(
      `routingToken must hold 1 to ${maxRoutingTokenLength} characters, not ${token.length}`,
    );
  }
  if (!/^[\x20-\x7e]+$/.test(token)) {
    throw new RangeError("routingToken must be printable ASCII (0x20-0x7e)");
  }
  return Buffer.from(`${token}\r\n`, "latin1");
}

/**
 * Parses a complete Connection Confirm TPKT (exactly the bytes its length field covers). Exported
 * for tests; {@link probeRdp} is what callers use.
 *
 * An RDP_NEG_FAILURE yields `ok: false` ("negotiation failure <code> (<name>)"): it proves an RDP
 * stack answers, but one that refuses TLS and NLA cannot serve our clients, so the instance is not
 * ready and a health check must not pass.
 */
export function parseConnectionConfirm(packet: Uint8Array): ProbeResult {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  if (packet.length < minConfirmLength) {
    return fail(`Connection Confirm too short: ${packet.length} bytes`);
  }
  if (view.getUint8(0) !== tpktVersion) {
    return fail(`not a TPKT: first byte 0x${hex8(view.getUint8(0))}`);
  }
  const tpktLength = view.getUint16(2);
  if (tpktLength !== packet.length) {
    return fail(`TPKT length ${tpktLength} does not match the ${packet.length} bytes given`);
  }
  const li = view.getUint8(4);
  if (li !== tpktLength - tpktHeaderLength - 1) {
    return fail(`X.224 length indicator ${li} inconsistent with TPKT length ${tpktLength}`);
  }
  const code = view.getUint8(5);
  if (code !== x224ConnectionConfirm) {
    return fail(`X.224 TPDU code 0x${hex8(code)} is not a Connection Confirm (0xd0)`);
  }
  const negLength = li - x224FixedLength;
  if (negLength === 0) return { ok: true, selectedProtocol: "rdp" };
  if (negLength !== negStructureLength) {
    return fail(`X.224 variable part of ${negLength} bytes is not an RDP negotiation structure`);
  }
  const at = minConfirmLength;
  const type = view.getUint8(at);
  const structureLength = view.getUint16(at + 2, true);
  if (structureLength !== negStructureLength) {
    return fail(`RDP negotiation structure length ${structureLength}, expected 8`);
  }
  const value = view.getUint32(at + 4, true);
  if (type === negResponseType) return { ok: true, selectedProtocol: protocolName(value) };
  if (type === negFailureType) {
    const name = negotiationFailureNames[value];
    return fail(`negotiation failure ${value}${name === undefined ? "" : ` (${name})`}`);
  }
  return fail(`RDP negotiation type 0x${hex8(type)} is neither a response nor a failure`);
}

/**
 * What a probe sends, and who hears of its Confirm: options of {@link probeRdp} and
 * {@link probeUntilReady}.
 */
export interface ProbeRequestOptions {
  /**
   * A routing token to send in the Connection Request (see {@link buildConnectionRequest}), as a
   * client of the node's RDP front door does; without one the request carries neither token nor
   * cookie. A token that cannot be sent rejects the probe with a RangeError.
   */
  readonly routingToken?: string;
  /**
   * Called once, synchronously, when a Connection Confirm that selects a protocol arrives: before
   * the sign-off, which takes tens of milliseconds more. For callers that time the Confirm itself
   * (the benchmarks); the result still waits for the sign-off.
   */
  readonly onConfirm?: (result: ProbeResult & { ok: true }) => void;
}

/**
 * Local ports of our own probe connections, kept a while after they close: the connection
 * watcher must not report the service's probes as clients. Nor must a reader of xrdp's log: since
 * the sign-off, xrdp logs each probe's "TLS connection established from 127.0.0.1 port <port>"
 * (and "Connected client computer name: lucid-probe") as it does a client's.
 */
const ownProbePorts = new Map<number, number>();
const ownPortMemoryMs = 10_000;

function rememberClosed(port: number): void {
  const now = Date.now();
  ownProbePorts.set(port, now + ownPortMemoryMs);
  if (ownProbePorts.size > 1024) {
    for (const [p, until] of ownProbePorts) if (until !== 0 && until < now) ownProbePorts.delete(p);
  }
}

/** True when `port` was the local port of one of our probes in the last few seconds. */
export function isOwnProbePort(port: number): boolean {
  const until = ownProbePorts.get(port);
  if (until === undefined) return false;
  if (until !== 0 && until < Date.now()) {
    ownProbePorts.delete(port);
    return false;
  }
  return true;
}

/**
 * Connects to `host:port`, sends {@link buildConnectionRequest}() (with `opts.routingToken` when
 * given) and waits for a Connection Confirm. Resolves `ok: true` only for a well-formed Confirm
 * that selects a protocol; every other outcome (refused, reset, closed early, garbage, malformed,
 * negotiation failure, silence beyond `timeoutMs`) resolves `ok: false` with a reason. Rejects only
 * when `signal` aborts, with its reason, or with a RangeError for a token that cannot be sent.
 *
 * After a Confirm that selects TLS it signs off as the module comment describes, so that xrdp logs
 * no error; otherwise it hangs up at once. Either way it resolves once the connection is closed,
 * within `timeoutMs`, and the socket is destroyed on every path.
 */
export function probeRdp(
  host: string,
  port: number,
  opts: {
    /**
     * The whole probe's time limit: connect, Confirm and sign-off. A sign-off it cuts short still
     * resolves with what the Confirm said.
     */
    timeoutMs: number;
    /** Aborts the probe; the promise then rejects with `signal.reason`. */
    signal?: AbortSignal;
  } & ProbeRequestOptions,
): Promise<ProbeResult> {
  const { signal, timeoutMs, onConfirm } = opts;
  return new Promise<ProbeResult>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const request = buildConnectionRequest(undefined, opts.routingToken);
    const socket = connect({ host, port, noDelay: true });
    let tls: TLSSocket | undefined;
    let received: Buffer = Buffer.alloc(0);
    /** The Confirm's verdict, once it has arrived; the sign-off cannot change it. */
    let confirmed: ProbeResult | undefined;
    let settled = false;
    let localPort: number | undefined;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      tls?.destroy();
      socket.destroy();
      if (localPort !== undefined) rememberClosed(localPort);
      outcome();
    };
    const finish = (result: ProbeResult) => settle(() => resolve(result));
    const onAbort = () => settle(() => reject(signal?.reason));
    const timer = setTimeout(
      () =>
        finish(
          confirmed ??
            fail(`no Connection Confirm within ${timeoutMs} ms (${received.length} bytes)`),
        ),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });

    const onData = (chunk: Buffer) => {
      if (received.length + chunk.length > maxReadBytes) {
        finish(fail(`more than ${maxReadBytes} bytes without a complete Connection Confirm`));
        return;
      }
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (received[0] !== tpktVersion) {
        finish(fail(`not a TPKT: first byte 0x${hex8(received[0] ?? 0)}`));
        return;
      }
      if (received.length < tpktHeaderLength) return; // need the length field
      const tpktLength = received.readUInt16BE(2);
      if (tpktLength < minConfirmLength || tpktLength > maxConfirmLength) {
        finish(fail(`TPKT length ${tpktLength} impossible for a Connection Confirm`));
        return;
      }
      if (received.length < tpktLength) return; // the rest is still on its way
      const result = parseConnectionConfirm(received.subarray(0, tpktLength));
      // A server sends nothing after its Confirm before the client's next step; one that does is
      // not one to sign off from.
      if (!result.ok || result.selectedProtocol !== "tls" || received.length > tpktLength) {
        if (result.ok) onConfirm?.(result);
        finish(result);
        return;
      }
      confirmed = result;
      onConfirm?.(result);
      socket.off("data", onData);
      tls = connectTls({ socket, rejectUnauthorized: false });
      signOff(tls).then(
        () => finish(result),
        () => finish(result),
      );
    };
    socket.once("connect", () => {
      localPort = socket.localPort;
      if (localPort !== undefined) ownProbePorts.set(localPort, 0); // 0: open now
      socket.write(request);
    });
    socket.on("data", onData);
    socket.on("error", (err: NodeJS.ErrnoException) =>
      finish(confirmed ?? fail(`connection to ${host}:${port} failed: ${err.code ?? err.message}`)),
    );
    socket.once("close", () =>
      finish(
        confirmed ??
          fail(`connection closed after ${received.length} bytes, before a Connection Confirm`),
      ),
    );
  });
}

/**
 * Probes `host:port` every `intervalMs` until a probe succeeds or `deadlineMs` has passed.
 * Resolves with the first `ok: true` result, or `ok: false` carrying the last probe's reason.
 * Rejects only when `signal` aborts, with its reason, or with a RangeError for a routing token
 * that cannot be sent.
 */
export async function probeUntilReady(
  host: string,
  port: number,
  opts: {
    /** Time budget in milliseconds from the call (a duration, not an epoch time). */
    deadlineMs: number;
    /** Pause between the end of one failed probe and the start of the next. */
    intervalMs: number;
    /**
     * Time limit of each probe, clipped to what is left of the budget.
     * @default 2000
     */
    attemptTimeoutMs?: number;
    signal?: AbortSignal;
  } & ProbeRequestOptions,
): Promise<ProbeResult> {
  const { deadlineMs, intervalMs, signal } = opts;
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 2000;
  const start = performance.now();
  const left = () => deadlineMs - (performance.now() - start);
  let attempts = 0;
  let last: ProbeResult = fail("no probe attempted");
  for (;;) {
    signal?.throwIfAborted();
    const remaining = left();
    if (remaining <= 0) break;
    last = await probeRdp(host, port, {
      timeoutMs: Math.max(1, Math.min(attemptTimeoutMs, remaining)),
      signal,
      routingToken: opts.routingToken,
      onConfirm: opts.onConfirm,
    });
    attempts += 1;
    if (last.ok) return last;
    const pause = Math.min(intervalMs, left());
    if (pause <= 0) break;
    await delay(pause, signal);
  }
  const reason = last.ok ? "" : last.reason;
  return fail(`not ready within ${deadlineMs} ms after ${attempts} probe(s); last: ${reason}`);
}

/** Resolves after `ms`, or rejects with `signal.reason` as soon as `signal` aborts. */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// The sign-off: MS-RDPBCGR's connection sequence over TLS, up to the login screen, then Escape.

/** The name xrdp logs as the client's ("Connected client computer name: lucid-probe"). */
const clientName = "lucid-probe";
/**
 * 1024x768: xrdp 0.10 works out the login screen's DPI from the physical size only for a height
 * of 768 or more, and warns otherwise. 8 bits per pixel: no max_bpp is lower, so xrdp never warns
 * that it lowers the client's depth, and the login screen is smallest.
 */
const desktop = { width: 1024, height: 768, widthMm: 271, heightMm: 203 };
/** MCS channel id of a user: userid + 1001 (T.125; MS-RDPBCGR 2.2.1.7). */
const mcsUserChannelBase = 1001;
/** T.125 DomainMCSPDU choices, the top 6 bits of a PER-encoded MCS PDU's first octet. */
const mcs = {
  erectDomainRequest: 1,
  disconnectProviderUltimatum: 8,
  attachUserRequest: 10,
  attachUserConfirm: 11,
  channelJoinRequest: 14,
  channelJoinConfirm: 15,
  sendDataRequest: 25,
  sendDataIndication: 26,
} as const;
/** TS_SECURITY_HEADER flags. */
const secInfoPkt = 0x0040;
const secLicensePkt = 0x0080;
/** MS-RDPELE LICENSE_PREAMBLE bMsgType values. */
const licenseRequest = 0x01;
const licenseErrorAlert = 0xff;
/** MS-RDPELE LICENSE_ERROR_MESSAGE dwErrorCode: the server admits the client. */
const statusValidClient = 0x07;
/** TS_SHARECONTROLHEADER pduType values (the low 4 bits). */
const pduTypeDemandActive = 0x1;
const pduTypeConfirmActive = 0x3;
const pduTypeData = 0x7;
/** TS_PROTOCOL_VERSION, the high bits of every pduType. */
const protocolVersion = 0x10;
/** TS_SHAREDATAHEADER pduType2 values. */
const pduType2 = { control: 0x14, input: 0x1c, synchronize: 0x1f, fontList: 0x27, fontMap: 0x28 };
/** The Escape key's scan code: xrdp's login window cancels on it (xrdp_bitmap.c, "esc"). */
const escapeScanCode = 0x01;

/**
 * Takes the TLS connection after a Confirm that selected TLS through the connection sequence to
 * the login screen, cancels the login, and waits until the server has closed the connection.
 * Rejects as soon as the server does something else; the caller then just hangs up.
 */
async function signOff(tls: TLSSocket): Promise<void> {
  tls.on("error", () => {}); // every error also ends the handshake or the read below
  await once(tls, "secureConnect");
  const pdus = readPdus(tls, maxSignOffBytes);
  const next = async (awaited: string): Promise<Buffer> => {
    const pdu = await pdus.next();
    if (pdu.done === true) throw new Error(`connection closed before ${awaited}`);
    return pdu.value;
  };
  const send = (pdu: Buffer) => tls.write(pdu);

  // Basic Settings Exchange (MS-RDPBCGR 1.3.1.1).
  send(mcsConnectInitial());
  const { ioChannel, channels } = parseConnectResponse(x224Data(await next("Connect Response")));

  // Channel Connection: the user channel, the I/O channel and each static channel the server gave.
  send(x224DataPdu(u8(mcs.erectDomainRequest << 2, 1, 0, 1, 0))); // subHeight 0, subInterval 0
  send(x224DataPdu(u8(mcs.attachUserRequest << 2)));
  const confirm = x224Data(await next("Attach User Confirm"));
  if (confirm.length < 4 || confirm[0] !== ((mcs.attachUserConfirm << 2) | 2) || confirm[1] !== 0) {
    throw new Error("no successful Attach User Confirm");
  }
  const initiator = confirm.readUInt16BE(2);
  const userChannel = mcsUserChannelBase + initiator;
  for (const channel of [userChannel, ioChannel, ...channels]) {
    send(x224DataPdu(u8(mcs.channelJoinRequest << 2), u16be(initiator), u16be(channel)));
    const joined = x224Data(await next("Channel Join Confirm"));
    if (joined.length < 6 || joined[0] >> 2 !== mcs.channelJoinConfirm || joined[1] !== 0) {
      throw new Error(`channel ${channel} not joined`);
    }
  }
  const sendData = (data: Buffer) => send(sendDataRequest(initiator, ioChannel, data));

  // Secure Settings Exchange and Licensing: no credentials, no license.
  sendData(clientInfo());
  let demandActive: Buffer | undefined;
  let licensed = false;
  while (demandActive === undefined) {
    const data = ioChannelData(await next("Demand Active"), ioChannel);
    if (data === undefined) continue;
    if (!licensed) {
      licensed = licensingDone(data, () => sendData(licenseErrorFromClient()));
    } else if (data.length >= 10 && (data.readUInt16LE(2) & 0xf) === pduTypeDemandActive) {
      demandActive = data;
    }
  }

  // Capabilities Exchange and Connection Finalization.
  const serverChannel = demandActive.readUInt16LE(4);
  const shareId = demandActive.readUInt32LE(6);
  const shareControl = (type: number, body: Buffer) =>
    Buffer.concat([
      u16le(body.length + 6),
      u16le(type | protocolVersion),
      u16le(userChannel),
      body,
    ]);
  const shareData = (type2: number, body: Buffer) =>
    shareControl(
      pduTypeData,
      Buffer.concat([u32le(shareId), u8(0, 1), u16le(body.length), u8(type2, 0), u16le(0), body]),
    );
  sendData(shareControl(pduTypeConfirmActive, confirmActive(shareId, serverChannel)));
  sendData(shareData(pduType2.synchronize, Buffer.concat([u16le(1), u16le(serverChannel)])));
  sendData(shareData(pduType2.control, Buffer.concat([u16le(4), u16le(0), u32le(0)]))); // cooperate
  sendData(shareData(pduType2.control, Buffer.concat([u16le(1), u16le(0), u32le(0)]))); // request
  sendData(shareData(pduType2.fontList, Buffer.concat([u16le(0), u16le(0), u16le(3), u16le(50)])));
  for (;;) {
    const data = ioChannelData(await next("Font Map"), ioChannel);
    const isData =
      data !== undefined && data.length >= 18 && (data.readUInt16LE(2) & 0xf) === pduTypeData;
    if (isData && data[14] === pduType2.fontMap) break;
  }

  // The login screen is up: Escape cancels it, and xrdp says goodbye and closes.
  const key = (flags: number) =>
    Buffer.concat([u32le(0), u16le(0x0004), u16le(flags), u16le(escapeScanCode), u16le(0)]);
  sendData(shareData(pduType2.input, Buffer.concat([u16le(2), u16le(0), key(0), key(0x8000)])));
  for (;;) {
    const pdu = await next("Disconnect Provider Ultimatum");
    if (pdu[0] === tpktVersion && x224Data(pdu)[0]! >> 2 === mcs.disconnectProviderUltimatum) break;
  }
  tls.end(); // close_notify: xrdp reads it, if at all, after it has sent its own
  // Read on until xrdp has closed: hanging up first could cut its own close_notify short.
  while ((await pdus.next()).done !== true) {}
}

/**
 * MS-RDPBCGR 2.2.1.3: MCS Connect Initial (T.125, BER) carrying a GCC Conference Create Request
 * (T.124, PER) with the client's core, security and network data. The only static channel asked
 * for is drdynvc: xrdp warns when a client has none.
 */
function mcsConnectInitial(): Buffer {
  const name = Buffer.alloc(32);
  name.write(clientName, "utf16le");
  const core = Buffer.concat([
    u32le(0x0008_0004), // version: RDP 5.0 and later
    u16le(desktop.width),
    u16le(desktop.height),
    u16le(0xca01), // colorDepth: RNS_UD_COLOR_8BPP
    u16le(0xaa03), // SASSequence: RNS_UD_SAS_DEL
    u32le(0x0409), // keyboardLayout: en-US
    u32le(2600), // clientBuild
    name, // clientName: UTF-16, NUL-terminated, 32 bytes
    u32le(4), // keyboardType: IBM enhanced (101 or 102 keys)
    u32le(0), // keyboardSubType
    u32le(12), // keyboardFunctionKey
    Buffer.alloc(64), // imeFileName
    u16le(0xca01), // postBeta2ColorDepth: RNS_UD_COLOR_8BPP
    u16le(1), // clientProductId
    u32le(0), // serialNumber
    u16le(8), // highColorDepth: HIGH_COLOR_8BPP
    u16le(0x0002), // supportedColorDepths: RNS_UD_16BPP_SUPPORT
    u16le(0), // earlyCapabilityFlags
    Buffer.alloc(64), // clientDigProductId
    u8(0, 0), // connectionType, pad1octet
    u32le(rdpProtocol.tls), // serverSelectedProtocol: what the Confirm selected
    u32le(desktop.widthMm), // desktopPhysicalWidth
    u32le(desktop.heightMm), // desktopPhysicalHeight
    u16le(0), // desktopOrientation
  ]);
  const security = Buffer.concat([u32le(0), u32le(0)]); // no RDP encryption: TLS does it
  const channel = Buffer.concat([Buffer.from("drdynvc\0", "latin1"), u32le(0xc080_0000)]);
  const network = Buffer.concat([u32le(1), channel]);
  const userData = Buffer.concat([
    userDataBlock(0xc001, core),
    userDataBlock(0xc002, security),
    userDataBlock(0xc003, network),
  ]);
  const conferenceCreateRequest = Buffer.concat([
    // ConnectGCCPDU conferenceCreateRequest, conferenceName "1", one userData set keyed
    // h221NonStandard "Duca" (MS-RDPBCGR 4.1.3)
    Buffer.from("000800100001c00044756361", "hex"),
    perLength(userData.length),
    userData,
  ]);
  const gcc = Buffer.concat([
    Buffer.from("000500147c0001", "hex"), // ConnectData: the T.124 object identifier
    perLength(conferenceCreateRequest.length),
    conferenceCreateRequest,
  ]);
  const body = Buffer.concat([
    ber(0x04, u8(1)), // callingDomainSelector
    ber(0x04, u8(1)), // calledDomainSelector
    ber(0x01, u8(0xff)), // upwardFlag: TRUE
    domainParameters([34, 2, 0, 1, 0, 1, 0xffff, 2]), // targetParameters
    domainParameters([1, 1, 1, 1, 0, 1, 0x420, 2]), // minimumParameters
    domainParameters([0xffff, 0xfc17, 0xffff, 1, 0, 1, 0xffff, 2]), // maximumParameters
    ber(0x04, gcc), // userData
  ]);
  return x224DataPdu(u8(0x7f, 0x65), berLength(body.length), body); // Connect-Initial
}

/**
 * MS-RDPBCGR 2.2.1.4: checks that the MCS Connect Response reports success and reads the server's
 * network data (TS_UD_SC_NET): the I/O channel and the static channels to join.
 */
function parseConnectResponse(pdu: Buffer): { ioChannel: number; channels: number[] } {
  if (pdu.length < 3 || pdu[0] !== 0x7f || pdu[1] !== 0x66) {
    throw new Error("no MCS Connect Response");
  }
  const outer = berRead(pdu, 2, pdu.length);
  const result = berRead(pdu, outer.at + 1, outer.end);
  if (pdu[outer.at] !== 0x0a || result.end - result.at !== 1 || pdu[result.at] !== 0) {
    throw new Error("MCS Connect Response without success");
  }
  let item = result;
  for (const tag of [0x02, 0x30, 0x04]) {
    // calledConnectId, domainParameters, userData
    const at = item.end;
    if (pdu[at] !== tag) throw new Error("malformed MCS Connect Response");
    item = berRead(pdu, at + 1, outer.end);
  }
  // The GCC Conference Create Response's user data follows the h221NonStandard key "McDn".
  const gcc = pdu.subarray(item.at, item.end);
  const key = gcc.indexOf("McDn", 0, "latin1");
  if (key < 0 || key + 6 > gcc.length) throw new Error("no GCC user data");
  const long = (gcc[key + 4] ?? 0) & 0x80;
  const length = long ? (((gcc[key + 4] ?? 0) & 0x3f) << 8) | (gcc[key + 5] ?? 0) : gcc[key + 4]!;
  let at = key + (long ? 6 : 5);
  const end = at + length;
  if (end > gcc.length) throw new Error("GCC user data beyond the PDU");
  while (at + 4 <= end) {
    const type = gcc.readUInt16LE(at);
    const size = gcc.readUInt16LE(at + 2);
    if (size < 4 || at + size > end) throw new Error("malformed GCC user data block");
    if (type === 0x0c03 && size >= 8) {
      const count = gcc.readUInt16LE(at + 6);
      if (count > 1 || 8 + 2 * count > size) throw new Error("unexpected static channels");
      const channels: number[] = [];
      for (let i = 0; i < count; i++) {
        const id = gcc.readUInt16LE(at + 8 + 2 * i);
        if (id !== 0) channels.push(id); // 0: not allocated, not to be joined
      }
      return { ioChannel: gcc.readUInt16LE(at + 4), channels };
    }
    at += size;
  }
  throw new Error("no server network data (SC_NET)");
}

/**
 * MS-RDPBCGR 2.2.1.11: Client Info PDU with empty domain, user name, password, shell and
 * directory. The flags are the four xrdp requires (INFO_MOUSE, INFO_DISABLECTRLALTDEL,
 * INFO_UNICODE, INFO_MAXIMIZESHELL); INFO_AUTOLOGON is not among them, so xrdp shows its login.
 */
function clientInfo(): Buffer {
  const lengths = Buffer.concat([u16le(0), u16le(0), u16le(0), u16le(0), u16le(0)]);
  const strings = Buffer.alloc(5 * 2); // five empty UTF-16 strings: their NUL terminators
  return Buffer.concat([u16le(secInfoPkt), u16le(0), u32le(0), u32le(0x33), lengths, strings]);
}

/**
 * Handles one licensing PDU (MS-RDPBCGR 2.2.1.12, MS-RDPELE): answers a License Request through
 * `reply`, and returns true once the server has said STATUS_VALID_CLIENT (xrdp 0.10 says so at
 * once; 0.9 asks first).
 */
function licensingDone(data: Buffer, reply: () => void): boolean {
  if (data.length < 8 || (data.readUInt16LE(0) & secLicensePkt) === 0) {
    throw new Error("licensing PDU expected");
  }
  const messageType = data[4];
  if (messageType === licenseRequest) {
    reply();
    return false;
  }
  if (messageType === licenseErrorAlert && data.length >= 12) {
    if (data.readUInt32LE(8) === statusValidClient) return true;
  }
  throw new Error(`licensing message 0x${hex8(messageType ?? 0)} not handled`);
}

/**
 * The client's answer to a License Request: a licensing error message with ERR_NO_LICENSE and
 * ST_NO_TRANSITION. xrdp 0.9 reads no more than its security header before it admits the client.
 */
function licenseErrorFromClient(): Buffer {
  return Buffer.concat([
    u16le(secLicensePkt),
    u16le(0),
    u8(licenseErrorAlert, 0x03), // bMsgType, flags: PREAMBLE_VERSION_3_0
    u16le(16), // wMsgSize: this preamble and the message
    u32le(0x02), // dwErrorCode: ERR_NO_LICENSE
    u32le(0x02), // dwStateTransition: ST_NO_TRANSITION
    u16le(0x0004), // bbErrorInfo: wBlobType BB_ERROR_BLOB
    u16le(0), // wBlobLen
  ]);
}

/**
 * MS-RDPBCGR 2.2.1.13.2.1 Confirm Active PDU body with one capability set, bitmap cache
 * revision 2 (2.2.7.1.4.2). xrdp 0.9.21 sizes its cache cells for the login screen's 64x64 tiles
 * from it; without it the largest cell holds 4 KiB, and xrdp logs an error for every tile of more
 * than 8 bits per pixel.
 */
function confirmActive(shareId: number, serverChannel: number): Buffer {
  const source = Buffer.from(`${clientName}\0`, "latin1");
  const cache = Buffer.concat([
    u16le(0), // CacheFlags
    u8(0, 3), // pad2, NumCellCaches
    u32le(600), // BitmapCache0CellInfo: entries
    u32le(600),
    u32le(2048),
    u32le(0),
    u32le(0),
    Buffer.alloc(12), // Pad3
  ]);
  const capabilities = Buffer.concat([u16le(1), u16le(0), u16le(0x13), u16le(cache.length + 4)]);
  return Buffer.concat([
    u32le(shareId),
    u16le(serverChannel), // originatorId
    u16le(source.length),
    u16le(capabilities.length + cache.length),
    source,
    capabilities, // numberCapabilities, pad2Octets, then the set's type and length
    cache,
  ]);
}

/**
 * Splits a byte stream into PDUs: slow-path (TPKT) and fast-path (MS-RDPBCGR 2.2.9.1.2) ones.
 * Throws on a malformed header, on more than `maxBytes` in all, and on a PDU cut off by the end
 * of the stream.
 */
async function* readPdus(stream: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer> {
  let buffered: Buffer = Buffer.alloc(0);
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > maxBytes) throw new Error(`more than ${maxBytes} bytes`);
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (let n = pduLength(buffered); n !== undefined && n <= buffered.length; ) {
      yield buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      n = pduLength(buffered);
    }
  }
  if (buffered.length > 0) throw new Error("connection closed in the middle of a PDU");
}

/** The length of the PDU `buffer` starts with, or undefined while its header is incomplete. */
function pduLength(buffer: Buffer): number | undefined {
  const first = buffer[0];
  if (first === undefined) return undefined;
  if (first === tpktVersion) {
    if (buffer.length < tpktHeaderLength) return undefined;
    const length = buffer.readUInt16BE(2);
    if (length < tpktHeaderLength + 3) throw new Error(`TPKT length ${length}`);
    return length;
  }
  if ((first & 0x3) !== 0) throw new Error(`PDU starting 0x${hex8(first)}`);
  const second = buffer[1];
  if (second === undefined) return undefined;
  if ((second & 0x80) === 0) {
    if (second < 2) throw new Error(`fast-path length ${second}`);
    return second;
  }
  const third = buffer[2];
  return third === undefined ? undefined : ((second & 0x7f) << 8) | third;
}

/** The payload of an X.224 Data TPDU (TPKT, LI 2, DT, EOT); throws for anything else. */
function x224Data(pdu: Buffer): Buffer {
  if (pdu[0] !== tpktVersion || pdu[4] !== 2 || pdu[5] !== 0xf0 || pdu[6] !== 0x80) {
    throw new Error("X.224 Data TPDU expected");
  }
  return pdu.subarray(7);
}

/** One TPKT carrying one X.224 Data TPDU with `parts` as its payload. */
function x224DataPdu(...parts: Buffer[]): Buffer {
  return tpkt(Buffer.concat([u8(2, 0xf0, 0x80), ...parts]));
}

/** T.125 Send Data Request to `channel` (MS-RDPBCGR 2.2.1.11: priority high, one segment). */
function sendDataRequest(initiator: number, channel: number, data: Buffer): Buffer {
  const header = Buffer.concat([u8(mcs.sendDataRequest << 2), u16be(initiator), u16be(channel)]);
  return x224DataPdu(header, u8(0x70), perLength(data.length), data);
}

/**
 * The user data of a T.125 Send Data Indication on `channel`; undefined for every other PDU, a
 * fast-path one included.
 */
function ioChannelData(pdu: Buffer, channel: number): Buffer | undefined {
  if (pdu[0] !== tpktVersion) return undefined;
  const payload = x224Data(pdu);
  if (payload.length < 7 || payload[0]! >> 2 !== mcs.sendDataIndication) return undefined;
  if (payload.readUInt16BE(3) !== channel) return undefined;
  const first = payload[6]!;
  const long = (first & 0x80) !== 0;
  const length = long ? ((first & 0x3f) << 8) | (payload[7] ?? 0) : first;
  const at = long ? 8 : 7;
  if (at + length !== payload.length) throw new Error("Send Data Indication length mismatch");
  return payload.subarray(at);
}

function tpkt(payload: Buffer): Buffer {
  return Buffer.concat([u8(tpktVersion, 0), u16be(payload.length + tpktHeaderLength), payload]);
}

function userDataBlock(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16le(type), u16le(body.length + 4), body]);
}

/** PER length determinant in its two-octet form (X.691 10.9.3.7), as GCC data carries it. */
function perLength(length: number): Buffer {
  if (length >= 0x4000) throw new Error(`PER length ${length} needs fragmentation`);
  return u16be(0x8000 | length);
}

function ber(tag: number, value: Buffer): Buffer {
  return Buffer.concat([u8(tag), berLength(value.length), value]);
}

function berLength(length: number): Buffer {
  return length < 0x80 ? u8(length) : Buffer.concat([u8(0x82), u16be(length)]);
}

/** T.125 DomainParameters: a SEQUENCE of eight INTEGERs. */
function domainParameters(values: number[]): Buffer {
  const integers = values.map((v) => {
    const bytes = v < 0x80 ? u8(v) : v < 0x8000 ? u16be(v) : Buffer.concat([u8(0), u16be(v)]);
    return ber(0x02, bytes);
  });
  return ber(0x30, Buffer.concat(integers));
}

/** Reads a BER length at `at`: where the value starts and ends; throws past `limit`. */
function berRead(pdu: Buffer, at: number, limit: number): { at: number; end: number } {
  const first = pdu[at];
  if (first === undefined) throw new Error("BER length missing");
  let length = first;
  let start = at + 1;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets < 1 || octets > 2 || start + octets > limit) throw new Error("BER length invalid");
    length = octets === 1 ? pdu[start]! : pdu.readUInt16BE(start);
    start += octets;
  }
  if (start + length > limit) throw new Error("BER value beyond its container");
  return { at: start, end: start + length };
}

function protocolName(value: number): SelectedProtocol {
  switch (value) {
    case rdpProtocol.rdp:
      return "rdp";
    case rdpProtocol.tls:
      return "tls";
    case rdpProtocol.hybrid:
      return "hybrid";
    case rdpProtocol.rdstls:
      return "rdstls";
    case rdpProtocol.hybridEx:
      return "hybrid_ex";
    default:
      return value;
  }
}

function fail(reason: string): ProbeResult {
  return { ok: false, reason };
}
