/**
 * Readiness and health probe for an RDP server: the first round trip of MS-RDPBCGR's connection
 * sequence and nothing more. It sends a Connection Request carrying an RDP Negotiation Request
 * (MS-RDPBCGR 2.2.1.1) and accepts only a well-formed Connection Confirm (2.2.1.2). A port that
 * merely accepts TCP connections is not ready: xrdp listens before it can serve, and anything else
 * on the port must not pass for an RDP server.
 *
 * Wire layout, all in one TPKT (RFC 1006) of 19 bytes:
 *
 * ```
 * TPKT header        version=3 | reserved=0 | length (u16 big-endian, whole packet)
 * X.224 CR / CC TPDU LI | code (0xE0 CR, 0xD0 CC) | DST-REF (u16) | SRC-REF (u16) | class option
 * RDP_NEG_*          type | flags | length=8 (u16 little-endian) | value (u32 little-endian)
 * ```
 *
 * Each probe costs the server one connection: xrdp (fork=true) forks a child per connection, which
 * exits when the probe closes its socket.
 */
import { connect } from "node:net";

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

/** MS-RDPBCGR 2.2.1.2.2 RDP_NEG_FAILURE failureCode names. */
const failureCodes: Record<number, string> = {
  1: "SSL_REQUIRED_BY_SERVER",
  2: "SSL_NOT_ALLOWED_BY_SERVER",
  3: "SSL_CERT_NOT_ON_SERVER",
  4: "INCONSISTENT_FLAGS",
  5: "HYBRID_REQUIRED_BY_SERVER",
  6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
};

const tpktVersion = 3;
const tpktHeaderLength = 4;
/** X.224 fixed part after the LI octet: code, DST-REF (2), SRC-REF (2), class option. */
const x224FixedLength = 6;
const x224ConnectionRequest = 0xe0;
const x224ConnectionConfirm = 0xd0;
const negRequestType = 0x01;
const negResponseType = 0x02;
const negFailureType = 0x03;
const negStructureLength = 8;
/** The shortest Connection Confirm: TPKT header, LI, fixed part, no negotiation structure. */
const minConfirmLength = tpktHeaderLength + 1 + x224FixedLength;
/**
 * The longest TPKT whose X.224 header its LI octet can describe (LI <= 254). A Connection Confirm
 * carries no user data, so a longer TPKT is inconsistent and is rejected as soon as its header
 * arrives instead of being read up to 64 KiB.
 */
const maxConfirmLength = tpktHeaderLength + 1 + 254;
/** Hard cap on bytes read from one connection, whatever the server sends. */
const maxReadBytes = 64 * 1024;

/**
 * Builds the client's first packet: TPKT + X.224 Connection Request + RDP_NEG_REQ
 * (MS-RDPBCGR 2.2.1.1), without routing token or cookie.
 *
 * @param requestedProtocols RDP_NEG_REQ requestedProtocols flags; TLS | HYBRID by default.
 */
export function buildConnectionRequest(
  requestedProtocols: number = rdpProtocol.tls | rdpProtocol.hybrid,
): Buffer {
  const length = tpktHeaderLength + 1 + x224FixedLength + negStructureLength;
  const w = new ByteWriter(length);
  // tpktHeader (T.123 / RFC 1006)
  w.u8(tpktVersion); // version
  w.u8(0); // reserved
  w.u16be(length); // length: of the whole packet, this header included
  // x224Crq (X.224 section 13.3)
  w.u8(length - tpktHeaderLength - 1); // LI (length indicator): octets after itself
  w.u8(x224ConnectionRequest); // CR CDT: Connection Request, initial credit 0
  w.u16be(0); // DST-REF
  w.u16be(0); // SRC-REF
  w.u8(0); // class option: class 0, no options
  // rdpNegReq (MS-RDPBCGR 2.2.1.1.1)
  w.u8(negRequestType); // type: TYPE_RDP_NEG_REQ
  w.u8(0); // flags
  w.u16le(negStructureLength); // length
  w.u32le(requestedProtocols >>> 0); // requestedProtocols
  return w.done();
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
    const name = failureCodes[value];
    return fail(`negotiation failure ${value}${name === undefined ? "" : ` (${name})`}`);
  }
  return fail(`RDP negotiation type 0x${hex8(type)} is neither a response nor a failure`);
}

/**
 * Connects to `host:port`, sends {@link buildConnectionRequest}() and waits for a Connection
 * Confirm. Resolves `ok: true` only for a well-formed Confirm that selects a protocol; every other
 * outcome (refused, reset, closed early, garbage, malformed, negotiation failure, silence beyond
 * `timeoutMs`) resolves `ok: false` with a reason. Rejects only when `signal` aborts, with its
 * reason. The socket is destroyed on every path.
 */
/**
 * Local ports of our own probe connections, kept a while after they close: the connection
 * watcher must not report the service's probes as clients.
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

export function probeRdp(
  host: string,
  port: number,
  opts: {
    /** The whole probe's time limit: connect, send, and receive the Confirm. */
    timeoutMs: number;
    /** Aborts the probe; the promise then rejects with `signal.reason`. */
    signal?: AbortSignal;
  },
): Promise<ProbeResult> {
  const { signal, timeoutMs } = opts;
  return new Promise<ProbeResult>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = connect({ host, port, noDelay: true });
    let received: Buffer = Buffer.alloc(0);
    let settled = false;
    let localPort: number | undefined;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      if (localPort !== undefined) rememberClosed(localPort);
      outcome();
    };
    const finish = (result: ProbeResult) => settle(() => resolve(result));
    const onAbort = () => settle(() => reject(signal?.reason));
    const timer = setTimeout(
      () => finish(fail(`no Connection Confirm within ${timeoutMs} ms (${received.length} bytes)`)),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });

    socket.once("connect", () => {
      localPort = socket.localPort;
      if (localPort !== undefined) ownProbePorts.set(localPort, 0); // 0: open now
      socket.write(buildConnectionRequest());
    });
    socket.on("data", (chunk: Buffer) => {
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
      // Bytes after the Confirm are not ours to interpret; a server sends none before our reply.
      finish(parseConnectionConfirm(received.subarray(0, tpktLength)));
    });
    socket.once("error", (err: NodeJS.ErrnoException) =>
      finish(fail(`connection to ${host}:${port} failed: ${err.code ?? err.message}`)),
    );
    socket.once("close", () =>
      finish(fail(`connection closed after ${received.length} bytes, before a Connection Confirm`)),
    );
  });
}

/**
 * Probes `host:port` every `intervalMs` until a probe succeeds or `deadlineMs` has passed.
 * Resolves with the first `ok: true` result, or `ok: false` carrying the last probe's reason.
 * Rejects only when `signal` aborts, with its reason.
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
  },
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

function hex8(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Fixed-size byte builder; throws if the fields written do not fill it exactly. */
class ByteWriter {
  private readonly buf: Buffer;
  private at = 0;

  constructor(length: number) {
    this.buf = Buffer.alloc(length);
  }

  u8(v: number): void {
    this.at = this.buf.writeUInt8(v, this.at);
  }

  u16be(v: number): void {
    this.at = this.buf.writeUInt16BE(v, this.at);
  }

  u16le(v: number): void {
    this.at = this.buf.writeUInt16LE(v, this.at);
  }

  u32le(v: number): void {
    this.at = this.buf.writeUInt32LE(v, this.at);
  }

  done(): Buffer {
    if (this.at !== this.buf.length) {
      throw new Error(`ByteWriter: wrote ${this.at} of ${this.buf.length} bytes`);
    }
    return this.buf;
  }
}
