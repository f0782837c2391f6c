/**
 * The wire constants of an RDP connection's first exchange, shared by the probe (the client side,
 * host/rdp-probe.ts) and the front door's parser (domain/x224-connection-request.ts): TPKT
 * (RFC 1006), the X.224 Connection Request / Confirm TPDUs and the RDP negotiation structures
 * (MS-RDPBCGR 2.2.1.1 and 2.2.1.2).
 */

export const tpktVersion = 3;
export const tpktHeaderLength = 4;
/** X.224 fixed part after the LI octet: code, DST-REF (2), SRC-REF (2), class option. */
export const x224FixedLength = 6;
export const x224ConnectionRequest = 0xe0;
export const x224ConnectionConfirm = 0xd0;
/** RDP_NEG_REQ, RDP_NEG_RSP and RDP_NEG_FAILURE structure types. */
export const negRequestType = 0x01;
export const negResponseType = 0x02;
export const negFailureType = 0x03;

/** MS-RDPBCGR 2.2.1.2.2 RDP_NEG_FAILURE failure codes. */
export const negotiationFailureCode = {
  sslRequiredByServer: 1,
  sslNotAllowedByServer: 2,
  sslCertNotOnServer: 3,
  inconsistentFlags: 4,
  hybridRequiredByServer: 5,
  sslWithUserAuthRequiredByServer: 6,
} as const;

/** The specification's name of each RDP_NEG_FAILURE failure code. */
export const negotiationFailureNames: Readonly<Record<number, string>> = {
  1: "SSL_REQUIRED_BY_SERVER",
  2: "SSL_NOT_ALLOWED_BY_SERVER",
  3: "SSL_CERT_NOT_ON_SERVER",
  4: "INCONSISTENT_FLAGS",
  5: "HYBRID_REQUIRED_BY_SERVER",
  6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
};

/** A byte as two hex digits, for error messages. */
export function hex8(n: number): string {
  return n.toString(16).padStart(2, "0");
}
