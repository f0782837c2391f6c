/**
 * The RDP client's first packet, as the front door reads it before it knows where the connection
 * goes (docs/rdp-front-door.md): a TPKT (RFC 1006) holding an X.224 Connection Request TPDU
 * (MS-RDPBCGR 2.2.1.1) whose variable part is, in this order,
 *
 * ```
 * [ routingToken or cookie, ASCII, ended by CR LF ]   FreeRDP /load-balance-info: sends the raw value
 * [ RDP_NEG_REQ: type 1 | flags | length 8 (u16le) | requestedProtocols (u32le) ]
 * [ RDP_NEG_CORRELATION_INFO: type 6 | flags | length 36 (u16le) | correlationId (16) | reserved (16) ]
 * ```
 *
 * Parsing is incremental and bounded: the caller hands in what it has buffered so far and gets
 * "need-more" until the packet is complete, and "invalid" as soon as the bytes cannot become a
 * Connection Request or would exceed {@link maxConnectionRequestBytes}. Pure: no I/O.
 */

import {
  hex8,
  negFailureType,
  negotiationFailureCode,
  negRequestType,
  tpktHeaderLength,
  tpktVersion,
  x224ConnectionConfirm,
  x224ConnectionRequest,
  x224FixedLength,
} from "./rdp-wire.js";

/** The most bytes the door buffers for a first packet; a longer TPKT is refused unread. */
export const maxConnectionRequestBytes = 512;

/** A complete, well-formed Connection Request. */
export interface ConnectionRequest {
  /**
   * The line before the negotiation request when it is not an `mstshash` cookie: the routing token
   * (RDP file `loadbalanceinfo:s:`), exactly as sent, without its CR LF.
   */
  readonly routingToken: string | undefined;
  /** The value of a `Cookie: mstshash=<value>` line (the user name clients send by default). */
  readonly cookie: string | undefined;
  /** RDP_NEG_REQ requestedProtocols; undefined when the client sent no RDP_NEG_REQ (Standard RDP Security only). */
  readonly requestedProtocols: number | undefined;
  /** Exactly the packet's bytes (a view into the input, not a copy). */
  readonly bytes: Uint8Array;
  /** What followed the packet in the input (a view; normally empty: clients wait for the Confirm). */
  readonly rest: Uint8Array;
}

/** The outcome of {@link parseConnectionRequest}. */
export type ConnectionRequestParse =
  | { readonly kind: "need-more" }
  | { readonly kind: "parsed"; readonly request: ConnectionRequest }
  | { readonly kind: "invalid"; readonly reason: string };

/** MS-RDPBCGR 2.2.1.2.2 RDP_NEG_FAILURE failure codes (re-exported for the door's callers). */
export { negotiationFailureCode };

/** TPKT header, LI, code, DST-REF, SRC-REF, class option. */
const fixedLength = tpktHeaderLength + 1 + x224FixedLength;
const correlationInfoType = 0x06;
const negRequestLength = 8;
const correlationInfoLength = 36;
const cookiePrefix = "Cookie: mstshash=";
const needMore: ConnectionRequestParse = { kind: "need-more" };

/**
 * Parses the first client packet from the bytes buffered so far. Returns "need-more" while the
 * packet is incomplete (and could still be valid), "parsed" once it is complete and well-formed,
 * and "invalid" with a reason otherwise: not a TPKT, a TPKT length under 11 or over
 * {@link maxConnectionRequestBytes}, an X.224 length indicator that disagrees with the TPKT
 * length, a TPDU other than a Connection Request, a token line with a non-printable byte or
 * without CR LF, or a malformed or unknown negotiation structure.
 */
export function parseConnectionRequest(input: Uint8Array): ConnectionRequestParse {
  if (input.length === 0) return needMore;
  if (input[0] !== tpktVersion) return invalid(`not a TPKT: first byte 0x${hex8(input[0]!)}`);
  if (input.length < tpktHeaderLength) return needMore;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const length = view.getUint16(2);
  if (length > maxConnectionRequestBytes) {
    return invalid(`TPKT length ${length} exceeds ${maxConnectionRequestBytes} bytes`);
  }
  if (length < fixedLength) return invalid(`TPKT length ${length} is shorter than ${fixedLength}`);
  if (input.length >= 5 && input[4] !== length - tpktHeaderLength - 1) {
    return invalid(`X.224 length indicator ${input[4]} inconsistent with TPKT length ${length}`);
  }
  if (input.length >= 6 && input[5] !== x224ConnectionRequest) {
    return invalid(`X.224 TPDU code 0x${hex8(input[5]!)} is not a Connection Request (0xe0)`);
  }
  if (input.length < length) return needMore;
  const bytes = input.subarray(0, length);
  const rest = input.subarray(length);

  let at = fixedLength;
  let routingToken: string | undefined;
  let cookie: string | undefined;
  let requestedProtocols: number | undefined;
  if (at < length && bytes[at] !== negRequestType && bytes[at] !== correlationInfoType) {
    const end = lineEnd(bytes, at);
    if (typeof end === "string") return invalid(end);
    const line = Buffer.from(bytes.buffer, bytes.byteOffset + at, end - at).toString("latin1");
    if (line.startsWith(cookiePrefix)) cookie = line.slice(cookiePrefix.length);
    else routingToken = line;
    at = end + 2;
  }
  if (at < length && bytes[at] === negRequestType) {
    if (length - at < negRequestLength) return invalid("RDP_NEG_REQ cut short");
    if (view.getUint16(at + 2, true) !== negRequestLength) {
      return invalid(`RDP_NEG_REQ length ${view.getUint16(at + 2, true)}, expected 8`);
    }
    requestedProtocols = view.getUint32(at + 4, true);
    at += negRequestLength;
  }
  if (at < length && bytes[at] === correlationInfoType) {
    if (length - at < correlationInfoLength) return invalid("RDP_NEG_CORRELATION_INFO cut short");
    if (view.getUint16(at + 2, true) !== correlationInfoLength) {
      return invalid(
        `RDP_NEG_CORRELATION_INFO length ${view.getUint16(at + 2, true)}, expected 36`,
      );
    }
    at += correlationInfoLength;
  }
  if (at !== length) {
    return invalid(`${length - at} unexpected bytes at offset ${at} of the Connection Request`);
  }
  return { kind: "parsed", request: { routingToken, cookie, requestedProtocols, bytes, rest } };
}

/**
 * The request re-encoded without its routing token line, TPKT length and X.224 length indicator
 * rewritten; a request with none is returned as is. xrdp 0.9.21 and 0.10.1 ignore the line, so
 * the door does not need this to relay (docs/rdp-front-door.md); it is kept for servers that do
 * not, and to keep a token from reaching a server that could log it.
 */
export function withoutRoutingToken(request: ConnectionRequest): Uint8Array {
  if (request.routingToken === undefined) return request.bytes;
  const tokenEnd = fixedLength + request.routingToken.length + 2;
  const tail = request.bytes.subarray(tokenEnd);
  const out = new Uint8Array(fixedLength + tail.length);
  out.set(request.bytes.subarray(0, fixedLength));
  out.set(tail, fixedLength);
  new DataView(out.buffer).setUint16(2, out.length);
  out[4] = out.length - tpktHeaderLength - 1;
  return out;
}

/**
 * An X.224 Connection Confirm carrying an RDP_NEG_FAILURE with `failureCode` (MS-RDPBCGR 2.2.1.2.2):
 * how the door refuses a connection it will not route. 19 bytes.
 */
export function encodeNegotiationFailure(failureCode: number): Uint8Array {
  const out = new Uint8Array(19);
  const view = new DataView(out.buffer);
  out.set([tpktVersion, 0]);
  view.setUint16(2, out.length);
  out.set([out.length - tpktHeaderLength - 1, x224ConnectionConfirm], 4);
  // DST-REF, SRC-REF, class option: zero
  out.set([negFailureType, 0], fixedLength);
  view.setUint16(fixedLength + 2, 8, true);
  view.setUint32(fixedLength + 4, failureCode >>> 0, true);
  return out;
}

/** Index of the CR of the CR LF ending the line at `from`, or the reason there is none. */
function lineEnd(bytes: Uint8Array, from: number): number | string {
  for (let i = from; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) {
      return bytes[i + 1] === 0x0a ? i : `CR without LF in the token line at offset ${i}`;
    }
    if (b < 0x20 || b > 0x7e) return `byte 0x${hex8(b)} in the token line at offset ${i}`;
  }
  return "routing token or cookie not ended by CR LF";
}

function invalid(reason: string): ConnectionRequestParse {
  return { kind: "invalid", reason };
}
