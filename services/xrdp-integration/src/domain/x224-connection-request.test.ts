import { describe, expect, it } from "vitest";
import { buildConnectionRequest, parseConnectionConfirm, rdpProtocol } from "../host/rdp-probe.js";
import {
  type ConnectionRequest,
  encodeNegotiationFailure,
  maxConnectionRequestBytes,
  negotiationFailureCode,
  parseConnectionRequest,
  withoutRoutingToken,
} from "./x224-connection-request.js";
import {
  capturedWithCookie,
  capturedWithToken,
  capturedWithTokenNoC,
  tokenWithC,
  tokenWithoutC,
} from "./x224-test-fixtures.js";

const hex = (s: string) => Buffer.from(s, "hex");
const tlsOrHybrid = rdpProtocol.tls | rdpProtocol.hybrid;

/** A Connection Request with `variable` as its X.224 variable part, lengths consistent. */
function request(variable: Buffer): Buffer {
  const x224 = Buffer.concat([Buffer.from([0xe0, 0, 0, 0, 0, 0]), variable]);
  const out = Buffer.concat([Buffer.from([3, 0, 0, 0, x224.length]), x224]);
  out.writeUInt16BE(out.length, 2);
  return out;
}

const negReq = (protocols: number) => {
  const b = Buffer.from([1, 0, 8, 0, 0, 0, 0, 0]);
  b.writeUInt32LE(protocols, 4);
  return b;
};

function parsed(input: Uint8Array): ConnectionRequest {
  const result = parseConnectionRequest(input);
  if (result.kind !== "parsed") throw new Error(`expected parsed, got ${JSON.stringify(result)}`);
  return result.request;
}

function reasonOf(input: Uint8Array): string {
  const result = parseConnectionRequest(input);
  if (result.kind !== "invalid") throw new Error(`expected invalid, got ${result.kind}`);
  return result.reason;
}

describe("parseConnectionRequest() on what xfreerdp sends", () => {
  it("reads the raw /load-balance-info: token (no Cookie: prefix) and the requested protocols", () => {
    for (const [bytes, token] of [
      [hex(capturedWithToken), tokenWithC],
      [hex(capturedWithTokenNoC), tokenWithoutC],
    ] as const) {
      const r = parsed(bytes);
      expect(r.routingToken).toBe(token);
      expect(r.cookie).toBeUndefined();
      expect(r.requestedProtocols).toBe(tlsOrHybrid);
      expect(Buffer.from(r.bytes)).toEqual(bytes);
      expect(r.rest).toHaveLength(0);
    }
  });

  it("reads the mstshash cookie a client sends without a token as a cookie, not a token", () => {
    const r = parsed(hex(capturedWithCookie));
    expect(r).toMatchObject({ cookie: "x", routingToken: undefined, requestedProtocols: 3 });
  });

  it("reads the probe's own request: no line, RDP_NEG_REQ only", () => {
    const r = parsed(buildConnectionRequest());
    expect(r).toMatchObject({ cookie: undefined, routingToken: undefined, requestedProtocols: 3 });
  });

  it("takes a token in the spec's Cookie: msts= form as the whole line", () => {
    const line = "Cookie: msts=3640205228.15629.0000";
    const r = parsed(request(Buffer.concat([Buffer.from(`${line}\r\n`), negReq(1)])));
    expect(r).toMatchObject({ routingToken: line, cookie: undefined, requestedProtocols: 1 });
  });

  it("accepts a request without RDP_NEG_REQ (Standard RDP Security) and one with correlation info", () => {
    expect(parsed(request(Buffer.from("tok\r\n"))).requestedProtocols).toBeUndefined();
    const correlation = Buffer.concat([Buffer.from([6, 0, 36, 0]), Buffer.alloc(32, 0x11)]);
    const r = parsed(request(Buffer.concat([Buffer.from("tok\r\n"), negReq(8), correlation])));
    expect(r).toMatchObject({ routingToken: "tok", requestedProtocols: 8 });
  });

  it("returns what follows the packet as rest", () => {
    const r = parsed(Buffer.concat([hex(capturedWithToken), Buffer.from([0x16, 0x03])]));
    expect(Buffer.from(r.rest)).toEqual(Buffer.from([0x16, 0x03]));
    expect(r.bytes).toHaveLength(hex(capturedWithToken).length);
  });
});

describe("parseConnectionRequest() incrementally", () => {
  it("needs more for every proper prefix of a valid request, byte by byte", () => {
    const bytes = hex(capturedWithToken);
    for (let n = 0; n < bytes.length; n++) {
      expect(parseConnectionRequest(bytes.subarray(0, n)).kind, `prefix ${n}`).toBe("need-more");
    }
    expect(parseConnectionRequest(bytes).kind).toBe("parsed");
  });

  it("refuses early: a non-TPKT first byte, an oversized or undersized TPKT length, a bad LI or code", () => {
    expect(reasonOf(Buffer.from([0x16]))).toMatch(/not a TPKT: first byte 0x16/);
    expect(reasonOf(Buffer.from("PRI * HTTP/2.0"))).toMatch(/not a TPKT/);
    const oversized = Buffer.from([3, 0, 0, 0]);
    oversized.writeUInt16BE(maxConnectionRequestBytes + 1, 2);
    expect(reasonOf(oversized)).toMatch(/TPKT length 513 exceeds 512 bytes/);
    expect(reasonOf(Buffer.from([3, 0, 0, 10]))).toMatch(/shorter than 11/);
    const badLi = hex(capturedWithToken).subarray(0, 5);
    badLi[4] = 0x10;
    expect(reasonOf(badLi)).toMatch(/length indicator 16 inconsistent with TPKT length 43/);
    const confirm = hex(capturedWithToken).subarray(0, 6);
    confirm[5] = 0xd0;
    expect(reasonOf(confirm)).toMatch(/TPDU code 0xd0 is not a Connection Request/);
  });

  it("refuses a TPKT of up to 512 bytes whose LI cannot describe it (the LI octet ends at 254)", () => {
    const long = request(Buffer.concat([Buffer.from(`${"t".repeat(300)}\r\n`), negReq(3)]));
    expect(long.length).toBeLessThanOrEqual(maxConnectionRequestBytes);
    expect(reasonOf(long)).toMatch(/length indicator/);
  });
});

describe("parseConnectionRequest() on malformed variable parts", () => {
  it("refuses a token line without CR LF, with a lone CR, or with a control byte", () => {
    expect(reasonOf(request(Buffer.from("tok")))).toMatch(/not ended by CR LF/);
    expect(reasonOf(request(Buffer.from("to\rk\r\n")))).toMatch(/CR without LF/);
    expect(reasonOf(request(Buffer.from("to\x00k\r\n")))).toMatch(/byte 0x00 in the token line/);
  });

  it("refuses a cut-short or wrongly sized RDP_NEG_REQ and trailing garbage", () => {
    expect(reasonOf(request(negReq(3).subarray(0, 6)))).toMatch(/RDP_NEG_REQ cut short/);
    const wrong = negReq(3);
    wrong[2] = 9;
    expect(reasonOf(request(wrong))).toMatch(/RDP_NEG_REQ length 9, expected 8/);
    expect(reasonOf(request(Buffer.concat([negReq(3), Buffer.from([7])])))).toMatch(
      /1 unexpected bytes at offset 19/,
    );
    const badCorrelation = Buffer.concat([negReq(3), Buffer.from([6, 0, 8, 0])]);
    expect(reasonOf(request(badCorrelation))).toMatch(/CORRELATION_INFO cut short/);
  });
});

describe("withoutRoutingToken()", () => {
  it("turns the captured request into the probe's own: the same negotiation, lengths rewritten", () => {
    for (const captured of [capturedWithToken, capturedWithTokenNoC]) {
      const stripped = withoutRoutingToken(parsed(hex(captured)));
      expect(Buffer.from(stripped)).toEqual(buildConnectionRequest(tlsOrHybrid));
      expect(parsed(stripped)).toMatchObject({ routingToken: undefined, requestedProtocols: 3 });
    }
  });

  it("keeps correlation info, and returns a request without a token unchanged", () => {
    const correlation = Buffer.concat([Buffer.from([6, 0, 36, 0]), Buffer.alloc(32, 0x22)]);
    const stripped = withoutRoutingToken(
      parsed(request(Buffer.concat([Buffer.from("tok\r\n"), negReq(1), correlation]))),
    );
    expect(Buffer.from(stripped)).toEqual(request(Buffer.concat([negReq(1), correlation])));
    const cookie = parsed(hex(capturedWithCookie));
    expect(withoutRoutingToken(cookie)).toBe(cookie.bytes);
  });
});

describe("encodeNegotiationFailure()", () => {
  it("is a Connection Confirm with RDP_NEG_FAILURE that the probe's reader understands", () => {
    for (const [code, name] of [
      [negotiationFailureCode.sslRequiredByServer, "SSL_REQUIRED_BY_SERVER"],
      [negotiationFailureCode.sslCertNotOnServer, "SSL_CERT_NOT_ON_SERVER"],
      [negotiationFailureCode.hybridRequiredByServer, "HYBRID_REQUIRED_BY_SERVER"],
    ] as const) {
      expect(parseConnectionConfirm(encodeNegotiationFailure(code))).toEqual({
        ok: false,
        reason: `negotiation failure ${code} (${name})`,
      });
    }
    expect(Buffer.from(encodeNegotiationFailure(3)).toString("hex")).toBe(
      "030000130ed000000000000300080003000000",
    );
  });
});
