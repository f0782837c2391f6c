/**
 * First packets captured from xfreerdp 2.11.7 (Debian 12's freerdp2-x11) by
 * test/routing-token-capture.test.ts, which checks on every run that the client still sends
 * exactly these bytes. Each is a TPKT with an X.224 Connection Request and RDP_NEG_REQ asking for
 * TLS | HYBRID (3).
 */

/** The routing token of {@link capturedWithToken}: it contains a "C", the byte xrdp reads as a cookie's start. */
export const tokenWithC = "lucid-7Hq2xNCw9ZrTb0Yk";
/** The routing token of {@link capturedWithTokenNoC}: no "C" anywhere. */
export const tokenWithoutC = "lucid-7hq2xnw9zrtb0yk";

/** `xfreerdp /load-balance-info:lucid-7Hq2xNCw9ZrTb0Yk /u:x`: the raw token, CR LF, RDP_NEG_REQ. */
export const capturedWithToken =
  "0300002b26e000000000006c756369642d37487132784e4377395a72546230596b0d0a0100080003000000";
/** `xfreerdp /load-balance-info:lucid-7hq2xnw9zrtb0yk /u:x`. */
export const capturedWithTokenNoC =
  "0300002a25e000000000006c756369642d37687132786e77397a72746230796b0d0a0100080003000000";
/** `xfreerdp /u:x` without a token: the `Cookie: mstshash=x` cookie instead. */
export const capturedWithCookie =
  "0300002722e00000000000436f6f6b69653a206d737473686173683d780d0a0100080003000000";
