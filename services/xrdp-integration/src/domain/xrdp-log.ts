/**
 * Reads what xrdp's own log says about logins, one line at a time. xrdp writes these lines from
 * the child process that serves one connection, and with `EnableProcessId=true` every line carries
 * that child's pid, which ties a login to its connection:
 *
 * ```
 * [20261206-03:56:06] [INFO ] [pid:15045 tid:1404] TLS connection established from 127.0.0.1 port 54758: TLSv1.3 with cipher ...
 * [20261206-03:55:24] [INFO ] [pid:15045 tid:1404] login successful for user alice on display 11     (0.9)
 * [20261206-03:56:08] [INFO ] [pid:15045 tid:1404] login failed for user alice                       (0.9)
 * [...] [INFO ] [pid:N tid:M] session is available on display 11 for user alice                       (0.10)
 * ```
 *
 * xrdp prints each window message twice, once prefixed `xrdp_wm_log_msg: `; only the plain line
 * counts, so each login is seen once.
 */

/** One fact the log states about a connection's child process. */
export type XrdpLogEvent =
  | {
      readonly kind: "peer";
      readonly pid: number;
      readonly peer: { readonly address: string; readonly port: number };
    }
  | {
      readonly kind: "login";
      readonly pid: number;
      readonly user: string;
      readonly display: number;
    }
  | {
      readonly kind: "login_failed";
      readonly pid: number;
      readonly user: string;
      readonly why: string;
    };

const prefix = /^\[[^\]]*\] \[[A-Z ]+\] \[pid:(\d+) tid:\d+\] (.*)$/;
const peerLine = /^TLS connection established from (\S+) port (\d{1,5})[: ]/;
const loginOk09 = /^login successful for user (\S{1,64}) on display (\d{1,5})$/;
const loginOk010 = /^session is available on display (\d{1,5}) for user (\S{1,64})$/;
const loginFailed09 = /^login failed for user (\S{1,64})$/;
/** 0.10 reports a refused login with scp_login_status_to_str's text, without the user. */
const loginFailed010 =
  /^(Authentication failure|Login failed|User not authorized|Login not permitted|Login retry limit reached)\b.*$/;

/** The event a log line states, or undefined for every other line (most of them). */
export function parseXrdpLogLine(line: string): XrdpLogEvent | undefined {
  const m = prefix.exec(line);
  if (m === null) return undefined;
  const pid = Number(m[1]);
  const text = (m[2] ?? "").trimEnd();
  let r = peerLine.exec(text);
  if (r) {
    const port = Number(r[2]);
    if (port < 1 || port > 65_535) return undefined;
    return { kind: "peer", pid, peer: { address: r[1] ?? "", port } };
  }
  r = loginOk09.exec(text);
  if (r) return { kind: "login", pid, user: r[1] ?? "", display: Number(r[2]) };
  r = loginOk010.exec(text);
  if (r) return { kind: "login", pid, user: r[2] ?? "", display: Number(r[1]) };
  r = loginFailed09.exec(text);
  if (r) return { kind: "login_failed", pid, user: r[1] ?? "", why: "login failed" };
  r = loginFailed010.exec(text);
  if (r) return { kind: "login_failed", pid, user: "", why: r[1] ?? "login failed" };
  return undefined;
}

/** `::ffff:1.2.3.4` and `1.2.3.4` name the same peer. */
export function normalizePeerAddress(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice("::ffff:".length) : a;
}
