/**
 * Reads what xrdp's own log says about logins, one line at a time. xrdp writes these lines from
 * the child process that serves one connection, and with `EnableProcessId=true` every line carries
 * that child's pid, which ties a login to its connection:
 *
 * ```
 * 0.9:  [20261206-03:56:06] [INFO ] [pid:15045 tid:1404] TLS connection established from 127.0.0.1 port 54758: TLSv1.3 ...
 *       [...] [INFO ] [pid:15045 tid:1404] xrdp_wm_log_msg: login successful for user alice on display 11
 *       [...] [INFO ] [pid:15045 tid:1404] xrdp_wm_log_msg: login failed for user alice
 * 0.10: [2026-12-06T04:01:37.681+0000] [INFO ] [pid:5433 tid:1399] TLS connection established from 127.0.0.1:53176 TLSv1.3 ...
 *       [...] xrdp_wm_log_msg: session is available on display 12 for user alice
 *       [...] xrdp_wm_log_msg: User does not exist, or could not be authenticated
 * ```
 *
 * Login results are window messages (xrdp_wm_log_msg, shown in the client's log window too);
 * 0.9 repeats some without the prefix, so only the prefixed line counts: each login is seen once.
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
const peerLine09 = /^TLS connection established from (\S+) port (\d{1,5}):/;
/** 0.10: `host:port`, an IPv6 host in brackets. */
const peerLine010 =
  /^TLS connection established from (?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5}) /;
const windowMessage = "xrdp_wm_log_msg: ";
const loginOk09 = /^login successful for user (\S{1,64}) on display (\d{1,5})$/;
const loginOk010 = /^session is available on display (\d{1,5}) for user (\S{1,64})$/;
const loginFailed09 = /^login failed for user (\S{1,64})$/;
/** 0.10 reports a refused login with scp_login_status_to_str's text, without the user. */
const loginFailed010 =
  /^(User does not exist, or could not be authenticated|Login retry limit reached|User is not authorized|Login failed)\b/;

/** The event a log line states, or undefined for every other line (most of them). */
export function parseXrdpLogLine(line: string): XrdpLogEvent | undefined {
  const m = prefix.exec(line);
  if (m === null) return undefined;
  const pid = Number(m[1]);
  const text = (m[2] ?? "").trimEnd();
  let r = peerLine09.exec(text);
  if (r) return peerEvent(pid, r[1] ?? "", Number(r[2]));
  r = peerLine010.exec(text);
  if (r) return peerEvent(pid, r[1] ?? r[2] ?? "", Number(r[3]));
  if (!text.startsWith(windowMessage)) return undefined;
  return loginEvent(pid, text.slice(windowMessage.length));
}

function peerEvent(pid: number, address: string, port: number): XrdpLogEvent | undefined {
  if (address === "" || port < 1 || port > 65_535) return undefined;
  return { kind: "peer", pid, peer: { address, port } };
}

function loginEvent(pid: number, text: string): XrdpLogEvent | undefined {
  let r = loginOk09.exec(text);
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
